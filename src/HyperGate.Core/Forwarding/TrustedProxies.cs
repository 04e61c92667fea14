using System.Net;
using System.Text;
using HyperGate.Http1;

namespace HyperGate.Forwarding;

/// <summary>
/// Decides who the client is. A peer in one of the trusted networks is a proxy, so the client is the nearest
/// address in X-Forwarded-For that is not a trusted proxy itself (read right to left: each proxy appends the
/// address it saw). Anything a client could forge, left of an untrusted hop, is never used.
/// </summary>
public sealed class TrustedProxies
{
    private static readonly byte[] ForwardedFor = Encoding.ASCII.GetBytes("x-forwarded-for");

    private readonly IPNetwork[] _networks;

    public TrustedProxies(IEnumerable<IPNetwork> networks) => _networks = [.. networks];

    public static TrustedProxies None { get; } = new([]);

    public bool IsEmpty => _networks.Length == 0;

    public bool Contains(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        foreach (IPNetwork network in _networks)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The client's address as ASCII: a slice of the request head, or the connection's peer address.</summary>
    public ReadOnlySpan<byte> ClientAddress(Exchange exchange)
    {
        if (_networks.Length == 0 || exchange.PeerAddress is not { } peer || !Contains(peer))
        {
            return exchange.ClientAddress;
        }

        RequestHead request = exchange.Request;
        ReadOnlySpan<byte> nearest = exchange.ClientAddress;
        ReadOnlySpan<HeaderField> fields = request.Headers;
        for (int i = fields.Length - 1; i >= 0; i--)
        {
            if (!Ascii.EqualsIgnoreCase(request.NameOf(fields[i]), ForwardedFor))
            {
                continue;
            }

            ReadOnlySpan<byte> list = request.ValueOf(fields[i]);
            while (!list.IsEmpty)
            {
                int comma = list.LastIndexOf((byte)',');
                ReadOnlySpan<byte> entry = list[(comma + 1)..].Trim(" \t"u8);
                list = comma < 0 ? default : list[..comma];
                if (!IPAddress.TryParse(entry, out IPAddress? address))
                {
                    // Garbage from the left of the chain: trust stops at the last good hop.
                    return nearest;
                }

                nearest = entry;
                if (!Contains(address))
                {
                    return entry;
                }
            }
        }

        return nearest;
    }
}
