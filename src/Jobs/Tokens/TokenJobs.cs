using Jobsd.Queue;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Jobsd.Jobs.Tokens;

public sealed record TokenRefreshFinderArgs : IJobArgs
{
    public static string Kind => "token-refresh";
}

/// <param name="Force">Refresh even if not due ("refresh now"); a credential that is not active still is not refreshed.</param>
public sealed record TokenRefreshArgs(Guid CredentialId, bool Force = false) : IJobArgs
{
    public static string Kind => "token.refresh";
}

public sealed record SecretsReencryptArgs : IJobArgs
{
    public static string Kind => "secrets.reencrypt";
}

/// <summary>The recurring finder: one token.refresh job per due credential.</summary>
public sealed partial class TokenRefreshFinderJob(CredentialStore store, SecretBox box, TimeProvider clock, ILogger<TokenRefreshFinderJob> logger) : IJob<TokenRefreshFinderArgs>
{
    public async Task ExecuteAsync(TokenRefreshFinderArgs args, JobContext context, CancellationToken ct)
    {
        if (!box.CanEncrypt)
        {
            NoKeys(logger);
            context.SetResult(new { Enqueued = 0, Why = "no encryption key is configured (Encryption:Keys, Encryption:CurrentKeyId)" });
            return;
        }
        var enqueued = await store.EnqueueDueAsync(clock.GetUtcNow(), ct);
        if (enqueued > 0) Found(logger, enqueued);
        context.SetResult(new { Enqueued = enqueued });
    }

    [LoggerMessage(EventId = 7401, Level = LogLevel.Information, Message = "Token refresh: {Count} credentials due, a refresh job each")]
    private static partial void Found(ILogger logger, long count);

    [LoggerMessage(EventId = 7402, Level = LogLevel.Warning, Message = "Token refresh is idle: no encryption key is configured (Encryption:Keys, Encryption:CurrentKeyId); see 'jobsd keys generate'")]
    private static partial void NoKeys(ILogger logger);
}

/// <summary>
/// Refreshes one credential. Its row stays locked (FOR UPDATE SKIP LOCKED) from the due check to
/// the stored result, with the token request in between, so two nodes never refresh the same
/// credential and a rotated refresh token is never used twice; the job completes in the same
/// transaction. Outcomes of the endpoint are the credential's state (failure count, next attempt,
/// reauth_required), not job errors: the job succeeds and the finder comes back when due.
/// </summary>
public sealed partial class TokenRefreshJob(
    NpgsqlDataSource dataSource, CredentialStore store, SecretBox box, TokenEndpointClient endpoint, TokenRefreshSettings settings,
    TimeProvider clock, ILogger<TokenRefreshJob> logger) : IJob<TokenRefreshArgs>
{
    public async Task ExecuteAsync(TokenRefreshArgs args, JobContext context, CancellationToken ct)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var (row, exists) = await CredentialStore.LockAsync(c, tx, args.CredentialId, ct);
        if (row is null)
        {
            context.SetResult(new { Outcome = exists ? "skipped: being refreshed by another job" : "skipped: the credential no longer exists" });
            return;
        }
        var now = clock.GetUtcNow();
        if (row.Status != "active")
        {
            context.SetResult(new { Outcome = $"skipped: status is {row.Status}" });
            return;
        }
        if (!args.Force && !await store.IsDueAsync(c, tx, row.Id, now, ct))
        {
            context.SetResult(new { Outcome = "skipped: not due (refreshed meanwhile)", ExpiresAt = row.ExpiresAt });
            return;
        }

        RefreshRequest request;
        try
        {
            request = new RefreshRequest(row.TokenEndpoint, row.ClientId,
                row.ClientSecretEncrypted is null ? null : box.Decrypt(row.ClientSecretEncrypted, SecretBox.Context(row.Id, "client_secret_encrypted")),
                row.RefreshTokenEncrypted is null ? throw new SecretUnreadableException("has no refresh token")
                    : box.Decrypt(row.RefreshTokenEncrypted, SecretBox.Context(row.Id, "refresh_token_encrypted")),
                row.ClientAuth, row.Scope);
        }
        catch (SecretUnreadableException e)
        {
            // Not a crash and not worth hammering: the credential says why until someone stores it again.
            var message = $"credential {row.Id} (connector '{row.Connector}'): a stored secret {e.Message}";
            await CredentialStore.FailedAsync(c, tx, row.Id, "active", message, now + Backoff(row.FailureCount + 1), ct);
            await AuditEvents.WriteAsync(c, tx, row.TeamId, "jobsd:" + context.Node, "credential.refresh_failed", "oauth_credential", row.Id.ToString(), new { connector = row.Connector, error = message }, ct);
            await FinishAsync(c, tx, context, new { Outcome = "failed", Error = message }, ct);
            Unreadable(logger, row.Connector, message);
            return;
        }

        var (grant, error) = await endpoint.RefreshAsync(request, ct);
        if (grant is not null)
        {
            var expiresAt = now + (grant.ExpiresIn ?? settings.DefaultLifetime);
            var access = box.Encrypt(grant.AccessToken, SecretBox.Context(row.Id, "access_token_encrypted"));
            var rotated = grant.RefreshToken is { } r && r != request.RefreshToken ? box.Encrypt(r, SecretBox.Context(row.Id, "refresh_token_encrypted")) : null;
            await CredentialStore.SucceededAsync(c, tx, row.Id, access, rotated, grant.TokenType, expiresAt, grant.Scope, now, ct);
            await AuditEvents.WriteAsync(c, tx, row.TeamId, "jobsd:" + context.Node, "credential.refreshed", "oauth_credential", row.Id.ToString(),
                new { connector = row.Connector, expires_at = expiresAt, refresh_token_rotated = rotated is not null }, ct);
            await FinishAsync(c, tx, context, new { Outcome = "refreshed", ExpiresAt = expiresAt, RefreshTokenRotated = rotated is not null }, ct);
            Refreshed(logger, row.Connector, expiresAt, rotated is not null);
            return;
        }

        var e2 = error!;
        if (e2.Kind == RefreshFailure.ReauthRequired)
        {
            var message = $"the token endpoint refused the grant ({e2.Message}); reconnect the connector";
            await CredentialStore.FailedAsync(c, tx, row.Id, "reauth_required", message, null, ct);
            await AuditEvents.WriteAsync(c, tx, row.TeamId, "jobsd:" + context.Node, "credential.reauth_required", "oauth_credential", row.Id.ToString(), new { connector = row.Connector, error = e2.Message }, ct);
            await FinishAsync(c, tx, context, new { Outcome = "reauth_required", Error = e2.Message }, ct);
            ReauthRequired(logger, row.Connector, e2.Message);
            return;
        }
        var wait = e2.RetryAfter is { } after ? Clamp(after) : Backoff(row.FailureCount + 1);
        var failure = (e2.Kind == RefreshFailure.Malformed ? "malformed token response: " : "") + e2.Message;
        await CredentialStore.FailedAsync(c, tx, row.Id, "active", failure, now + wait, ct);
        await AuditEvents.WriteAsync(c, tx, row.TeamId, "jobsd:" + context.Node, "credential.refresh_failed", "oauth_credential", row.Id.ToString(),
            new { connector = row.Connector, error = failure, next_attempt_at = now + wait }, ct);
        await FinishAsync(c, tx, context, new { Outcome = "failed", Error = failure, NextAttemptAt = now + wait }, ct);
        Failed(logger, row.Connector, row.FailureCount + 1, wait.TotalSeconds, failure);
    }

    private static async Task FinishAsync(NpgsqlConnection c, NpgsqlTransaction tx, JobContext context, object result, CancellationToken ct)
    {
        context.SetResult(result);
        await context.CompleteWithinAsync(c, tx, ct);
        await tx.CommitAsync(ct);
    }

    /// <summary>Backoff doubles per consecutive failure from TokenRefresh:Backoff, capped, with ±10 % jitter.</summary>
    private TimeSpan Backoff(int failures)
    {
        var seconds = Math.Min(settings.MaxBackoff.TotalSeconds, settings.Backoff.TotalSeconds * Math.Pow(2, Math.Min(failures - 1, 30)));
        return TimeSpan.FromSeconds(seconds * (0.9 + Random.Shared.NextDouble() * 0.2));
    }

    private TimeSpan Clamp(TimeSpan retryAfter) => retryAfter < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : retryAfter > settings.MaxBackoff ? settings.MaxBackoff : retryAfter;

    [LoggerMessage(EventId = 7411, Level = LogLevel.Information, Message = "Credential of connector {Connector} refreshed; expires {ExpiresAt:O}; refresh token rotated: {Rotated}")]
    private static partial void Refreshed(ILogger logger, string connector, DateTimeOffset expiresAt, bool rotated);

    [LoggerMessage(EventId = 7412, Level = LogLevel.Warning, Message = "Credential of connector {Connector} needs to be reconnected: {Error}")]
    private static partial void ReauthRequired(ILogger logger, string connector, string error);

    [LoggerMessage(EventId = 7413, Level = LogLevel.Warning, Message = "Refreshing the credential of connector {Connector} failed ({Failures} in a row), next try in {Seconds:0} s: {Error}")]
    private static partial void Failed(ILogger logger, string connector, int failures, double seconds, string error);

    [LoggerMessage(EventId = 7414, Level = LogLevel.Error, Message = "Credential of connector {Connector} cannot be read: {Error}")]
    private static partial void Unreadable(ILogger logger, string connector, string error);
}

/// <summary>Moves every stored secret to Encryption:CurrentKeyId, batch by batch (after a key rotation).</summary>
public sealed partial class SecretsReencryptJob(CredentialStore store, ILogger<SecretsReencryptJob> logger) : IJob<SecretsReencryptArgs>
{
    public async Task ExecuteAsync(SecretsReencryptArgs args, JobContext context, CancellationToken ct)
    {
        var total = 0;
        try
        {
            for (int n; (n = await store.ReencryptBatchAsync(ct)) > 0;) total += n;
        }
        catch (SecretUnreadableException e)
        {
            throw new JobPermanentException($"re-encryption stopped after {total} credentials: {e.Message}");
        }
        Reencrypted(logger, total);
        context.SetResult(new { Reencrypted = total });
    }

    [LoggerMessage(EventId = 7421, Level = LogLevel.Information, Message = "Re-encrypted the secrets of {Count} credentials with the current key")]
    private static partial void Reencrypted(ILogger logger, int count);
}
