using System.Net;

namespace HyperGate.Security;

/// <summary>
/// <c>allow_ips</c> / <c>deny_ips</c>: CIDR ranges, IPv4 and IPv6. A denied address is refused even when it is
/// also allowed; when an allow list is set, only addresses in it pass.
/// </summary>
public sealed class IpFilter(IReadOnlyList<IPNetwork> allow, IReadOnlyList<IPNetwork> deny)
{
    private readonly IPNetwork[] _allow = [.. allow];
    private readonly IPNetwork[] _deny = [.. deny];

    public bool IsEmpty => _allow.Length == 0 && _deny.Length == 0;

    /// <summary>An unknown address passes only when there is no allow list.</summary>
    public bool Permits(IPAddress? address)
    {
        if (address is null)
        {
            return _allow.Length == 0;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        foreach (IPNetwork network in _deny)
        {
            if (network.Contains(address))
            {
                return false;
            }
        }

        if (_allow.Length == 0)
        {
            return true;
        }

        foreach (IPNetwork network in _allow)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }
}
