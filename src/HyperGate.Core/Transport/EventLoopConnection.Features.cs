using System.Collections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace HyperGate.Transport;

/// <summary>
/// The connection is its own feature collection, as Kestrel's transports are: the features it implements are answered
/// by type without being stored, and features set on it by its user go in a small array searched in order, created
/// by the first one set (the gateway's listeners set none). A <see cref="FeatureCollection"/> cost about a kilobyte
/// of dictionary per connection.
/// </summary>
internal sealed partial class EventLoopConnection : IFeatureCollection
{
    private static readonly Type[] s_ownFeatures =
    [
        typeof(IConnectionTransportFeature), typeof(IConnectionIdFeature), typeof(IConnectionItemsFeature),
        typeof(IMemoryPoolFeature), typeof(IConnectionLifetimeFeature), typeof(IConnectionEndPointFeature),
    ];

    private KeyValuePair<Type, object?>[]? _setFeatures;
    private int _setFeatureCount;
    private int _featureRevision;

    public override IFeatureCollection Features => this;

    bool IFeatureCollection.IsReadOnly => false;

    int IFeatureCollection.Revision => _featureRevision;

    object? IFeatureCollection.this[Type key]
    {
        get => GetFeature(key);
        set => SetFeature(key, value);
    }

    TFeature? IFeatureCollection.Get<TFeature>() where TFeature : default => (TFeature?)GetFeature(typeof(TFeature));

    void IFeatureCollection.Set<TFeature>(TFeature? instance) where TFeature : default => SetFeature(typeof(TFeature), instance);

    IEnumerator<KeyValuePair<Type, object>> IEnumerable<KeyValuePair<Type, object>>.GetEnumerator() => EnumerateFeatures().GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => EnumerateFeatures().GetEnumerator();

    /// <summary>A feature set on the connection wins over its own (a null one hides it).</summary>
    private object? GetFeature(Type type)
    {
        int index = IndexOfSetFeature(type);
        return index >= 0 ? _setFeatures![index].Value : Array.IndexOf(s_ownFeatures, type) >= 0 ? this : null;
    }

    private void SetFeature(Type type, object? instance)
    {
        int index = IndexOfSetFeature(type);
        if (index < 0)
        {
            _setFeatures ??= new KeyValuePair<Type, object?>[4];
            if (_setFeatureCount == _setFeatures.Length)
            {
                Array.Resize(ref _setFeatures, _setFeatures.Length * 2);
            }

            index = _setFeatureCount++;
        }

        _setFeatures![index] = new KeyValuePair<Type, object?>(type, instance);
        _featureRevision++;
    }

    private int IndexOfSetFeature(Type type)
    {
        for (int i = 0; i < _setFeatureCount; i++)
        {
            if (_setFeatures![i].Key == type)
            {
                return i;
            }
        }

        return -1;
    }

    private IEnumerable<KeyValuePair<Type, object>> EnumerateFeatures()
    {
        for (int i = 0; i < _setFeatureCount; i++)
        {
            if (_setFeatures![i].Value is { } value)
            {
                yield return new KeyValuePair<Type, object>(_setFeatures[i].Key, value);
            }
        }

        foreach (Type own in s_ownFeatures)
        {
            if (IndexOfSetFeature(own) < 0)
            {
                yield return new KeyValuePair<Type, object>(own, this);
            }
        }
    }
}
