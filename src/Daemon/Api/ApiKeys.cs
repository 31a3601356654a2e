using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using Jobsd.Daemon.Configuration;

namespace Jobsd.Daemon.Api;

/// <summary>An authenticated API caller: the key's configured name and the kinds it may enqueue (null: any).</summary>
public sealed record ApiCaller(string Name, IReadOnlySet<string>? Kinds)
{
    public bool MayEnqueue(string kind) => Kinds is null || Kinds.Contains(kind);
}

/// <summary>
/// Bearer API keys. Only SHA-256 hashes are configured; a presented key is hashed and compared
/// with every configured hash in constant time, so neither timing nor the configuration gives
/// a key away. Each key has its own token bucket.
/// </summary>
public sealed class ApiKeys(ApiSettings settings)
{
    private readonly (string Name, byte[] Hash, IReadOnlySet<string>? Kinds)[] _keys = settings.Keys
        .Select(k => (k.Key, Convert.FromHexString(k.Value.Hash!), (IReadOnlySet<string>?)(k.Value.Kinds is { } kinds ? kinds.ToHashSet(StringComparer.Ordinal) : null)))
        .ToArray();

    private readonly ConcurrentDictionary<string, TokenBucketRateLimiter> _buckets = new(StringComparer.Ordinal);

    public bool AnyConfigured => _keys.Length > 0;

    /// <summary>The caller for a presented key, or null.</summary>
    public ApiCaller? Authenticate(string presented)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        ApiCaller? found = null;
        // Every hash is compared, match or not: the time taken does not depend on which key matched.
        foreach (var key in _keys)
        {
            if (CryptographicOperations.FixedTimeEquals(hash, key.Hash)) found ??= new ApiCaller(key.Name, key.Kinds);
        }
        return found;
    }

    /// <summary>Takes a token from the caller's bucket; when empty, how long until one is back.</summary>
    public bool TryAcquire(ApiCaller caller, out TimeSpan retryAfter)
    {
        var bucket = _buckets.GetOrAdd(caller.Name, _ => new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = settings.RateLimit.Burst,
            TokensPerPeriod = settings.RateLimit.RequestsPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
        using var lease = bucket.AttemptAcquire();
        retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
        return lease.IsAcquired;
    }

    /// <summary>A new random key and the hash to configure for it.</summary>
    public static (string Key, string Hash) Create()
    {
        var key = "jobsd_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        return (key, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key))));
    }
}
