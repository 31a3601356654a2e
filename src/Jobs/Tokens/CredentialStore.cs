using Dapper;
using Npgsql;

namespace Jobsd.Jobs.Tokens;

/// <summary>A credential to create or replace. Secrets are plaintext here and only here; they are encrypted before any SQL sees them.</summary>
public sealed record CredentialInput(
    string Team, string Connector, string Provider, string TokenEndpoint, string ClientId, string? ClientSecret, string RefreshToken,
    string? AccessToken, DateTimeOffset? ExpiresAt, string ClientAuth, string? Scope);

/// <summary>A credential as operators see it: no secret, not even encrypted.</summary>
public sealed class CredentialView
{
    public Guid Id { get; init; }
    public Guid ConnectorId { get; init; }
    public string Team { get; init; } = "";
    public string Connector { get; init; } = "";
    public string Provider { get; init; } = "";
    public string TokenEndpoint { get; init; } = "";
    public string ClientId { get; init; } = "";
    public string ClientAuth { get; init; } = "";
    public string? Scope { get; init; }
    public string Status { get; init; } = "";
    public DateTime? ExpiresAt { get; init; }
    public DateTime? LastRefreshedAt { get; init; }
    public int FailureCount { get; init; }
    public DateTime? NextAttemptAt { get; init; }
    public string? LastError { get; init; }
    public bool HasAccessToken { get; init; }
}

/// <summary>A credential row locked for its refresh, secrets still encrypted.</summary>
public sealed class LockedCredential
{
    public Guid Id { get; init; }
    public Guid TeamId { get; init; }
    public string Connector { get; init; } = "";
    public string TokenEndpoint { get; init; } = "";
    public string ClientId { get; init; } = "";
    public string ClientAuth { get; init; } = "";
    public string? Scope { get; init; }
    public string Status { get; init; } = "";
    public string? ClientSecretEncrypted { get; init; }
    public string? RefreshTokenEncrypted { get; init; }
    public string? AccessTokenEncrypted { get; init; }
    public DateTime? ExpiresAt { get; init; }
    public DateTime? LastRefreshedAt { get; init; }
    public int FailureCount { get; init; }
    public DateTime? NextAttemptAt { get; init; }
}

/// <summary>oauth_credentials and connectors as token refresh reads and writes them.</summary>
public sealed class CredentialStore(NpgsqlDataSource dataSource, SecretBox box, TokenRefreshSettings settings)
{
    /// <summary>
    /// Due: active, past next_attempt_at, and with less left than RefreshAhead or half its lifetime
    /// (the larger), scaled per credential by a stable factor in [0.9, 1.1) from its id — so a fleet
    /// issued at once does not refresh in lock-step. No access token, or no expiry: due.
    /// </summary>
    public const string DueCondition = """
        c.status = 'active' and (c.next_attempt_at is null or c.next_attempt_at <= @now)
        and (c.access_token_encrypted is null or c.expires_at is null
             or c.expires_at - @now < greatest(@ahead, coalesce((c.expires_at - c.last_refreshed_at) / 2, interval '0'))
                                      * (0.9 + 0.2 * (('x' || substr(md5(c.id::text), 1, 8))::bit(32)::bigint / 4294967296.0)))
        """;

    /// <summary>One token.refresh job per due credential (unique per credential); returns how many were new.</summary>
    public async Task<long> EnqueueDueAsync(DateTimeOffset now, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"""
            select count(*) filter (where not e.existing)
            from oauth_credentials c,
                 queue.enqueue_job(kind => 'token.refresh', args => jsonb_build_object('credential_id', c.id),
                                   queue => '{TokenRefreshSettings.Queue}', unique_key => c.id::text, allow_unknown => true) e
            where {DueCondition}
            """);
        command.Parameters.AddWithValue("now", now);
        command.Parameters.AddWithValue("ahead", settings.RefreshAhead);
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Locks the credential unless another node holds it (null: locked elsewhere or gone — see <paramref name="exists"/>).</summary>
    public static async Task<(LockedCredential? Row, bool Exists)> LockAsync(NpgsqlConnection c, NpgsqlTransaction tx, Guid id, CancellationToken ct)
    {
        var row = await c.QuerySingleOrDefaultAsync<LockedCredential>(new CommandDefinition("""
            select c.id, k.team_id as teamid, k.name as connector, c.token_endpoint as tokenendpoint, c.client_id as clientid,
                   c.client_auth as clientauth, c.scope, c.status, c.client_secret_encrypted as clientsecretencrypted,
                   c.refresh_token_encrypted as refreshtokenencrypted, c.access_token_encrypted as accesstokenencrypted,
                   c.expires_at as expiresat, c.last_refreshed_at as lastrefreshedat, c.failure_count as failurecount, c.next_attempt_at as nextattemptat
            from oauth_credentials c join connectors k on k.id = c.connector_id
            where c.id = @id
            for update of c skip locked
            """, new { id }, tx, cancellationToken: ct));
        if (row is not null) return (row, true);
        var exists = await c.ExecuteScalarAsync<bool>(new CommandDefinition("select exists (select 1 from oauth_credentials where id = @id)", new { id }, tx, cancellationToken: ct));
        return (null, exists);
    }

    public async Task<bool> IsDueAsync(NpgsqlConnection c, NpgsqlTransaction tx, Guid id, DateTimeOffset now, CancellationToken ct) =>
        await c.ExecuteScalarAsync<bool>(new CommandDefinition($"select exists (select 1 from oauth_credentials c where c.id = @id and {DueCondition})",
            new { id, now, ahead = settings.RefreshAhead }, tx, cancellationToken: ct));

    public static Task SucceededAsync(NpgsqlConnection c, NpgsqlTransaction tx, Guid id, string accessEncrypted, string? refreshEncrypted, string tokenType,
        DateTimeOffset expiresAt, string? scope, DateTimeOffset now, CancellationToken ct) =>
        c.ExecuteAsync(new CommandDefinition("""
            update oauth_credentials
            set access_token_encrypted = @access, refresh_token_encrypted = coalesce(@refresh, refresh_token_encrypted),
                token_type = @tokenType, expires_at = @expiresAt, scope = coalesce(@scope, scope), status = 'active',
                failure_count = 0, next_attempt_at = null, last_error = null, last_refreshed_at = @now
            where id = @id
            """, new { id, access = accessEncrypted, refresh = refreshEncrypted, tokenType, expiresAt, scope, now }, tx, cancellationToken: ct));

    public static Task FailedAsync(NpgsqlConnection c, NpgsqlTransaction tx, Guid id, string status, string error, DateTimeOffset? nextAttempt, CancellationToken ct) =>
        c.ExecuteAsync(new CommandDefinition("""
            update oauth_credentials
            set status = @status, failure_count = failure_count + 1, next_attempt_at = @nextAttempt, last_error = @error
            where id = @id
            """, new { id, status, error, nextAttempt }, tx, cancellationToken: ct));

    /// <summary>
    /// Creates or replaces a connector's credential (the connector by team and name), encrypting
    /// every secret first. A stored credential starts over: active, no failures.
    /// </summary>
    public async Task<(Guid CredentialId, Guid ConnectorId, bool Created)> PutAsync(CredentialInput input, string actor, CancellationToken ct)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var team = await c.ExecuteScalarAsync<Guid?>(new CommandDefinition(
            "select id from teams where id::text = @team or name = @team order by (id::text = @team) desc limit 1", new { team = input.Team }, tx, cancellationToken: ct))
            ?? throw new ArgumentException($"no team '{input.Team}' (give its id or name)", "team");
        var connector = await c.ExecuteScalarAsync<Guid>(new CommandDefinition("""
            insert into connectors (team_id, name, provider) values (@team, @name, @provider)
            on conflict (team_id, name) do update set provider = excluded.provider
            returning id
            """, new { team, name = input.Connector, provider = input.Provider }, tx, cancellationToken: ct));
        var existing = await c.ExecuteScalarAsync<Guid?>(new CommandDefinition(
            "select id from oauth_credentials where connector_id = @connector for update", new { connector }, tx, cancellationToken: ct));
        var id = existing ?? Guid.NewGuid();
        string? Seal(string? value, string column) => value is null ? null : box.Encrypt(value, SecretBox.Context(id, column));
        var values = new
        {
            id, connector, endpoint = input.TokenEndpoint, clientId = input.ClientId, clientAuth = input.ClientAuth, scope = input.Scope,
            secret = Seal(input.ClientSecret, "client_secret_encrypted"), refresh = Seal(input.RefreshToken, "refresh_token_encrypted"),
            access = Seal(input.AccessToken, "access_token_encrypted"), expiresAt = input.AccessToken is null ? null : input.ExpiresAt,
        };
        await c.ExecuteAsync(new CommandDefinition("""
            insert into oauth_credentials (id, connector_id, token_endpoint, client_id, client_auth, scope, client_secret_encrypted,
                                           refresh_token_encrypted, access_token_encrypted, expires_at, status, failure_count,
                                           next_attempt_at, last_error, last_refreshed_at)
            values (@id, @connector, @endpoint, @clientId, @clientAuth, @scope, @secret, @refresh, @access, @expiresAt, 'active', 0, null, null,
                    case when @access::text is null then null else now() end)
            on conflict (id) do update
            set token_endpoint = excluded.token_endpoint, client_id = excluded.client_id, client_auth = excluded.client_auth,
                scope = excluded.scope, client_secret_encrypted = excluded.client_secret_encrypted,
                refresh_token_encrypted = excluded.refresh_token_encrypted, access_token_encrypted = excluded.access_token_encrypted,
                expires_at = excluded.expires_at, status = 'active', failure_count = 0, next_attempt_at = null, last_error = null,
                last_refreshed_at = excluded.last_refreshed_at
            """, values, tx, cancellationToken: ct));
        await AuditEvents.WriteAsync(c, tx, team, actor, existing is null ? "credential.created" : "credential.replaced", "oauth_credential", id.ToString(),
            new { connector = input.Connector, token_endpoint = input.TokenEndpoint, client_auth = input.ClientAuth, has_access_token = input.AccessToken is not null }, ct);
        await tx.CommitAsync(ct);
        return (id, connector, existing is null);
    }

    public async Task<IReadOnlyList<CredentialView>> ListAsync(CancellationToken ct)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        return (await c.QueryAsync<CredentialView>(new CommandDefinition("""
            select c.id, k.id as connectorid, t.name as team, k.name as connector, k.provider, c.token_endpoint as tokenendpoint,
                   c.client_id as clientid, c.client_auth as clientauth, c.scope, c.status, c.expires_at as expiresat,
                   c.last_refreshed_at as lastrefreshedat, c.failure_count as failurecount, c.next_attempt_at as nextattemptat,
                   c.last_error as lasterror, c.access_token_encrypted is not null as hasaccesstoken
            from oauth_credentials c join connectors k on k.id = c.connector_id join teams t on t.id = k.team_id
            order by t.name, k.name
            """, cancellationToken: ct))).ToList();
    }

    /// <summary>
    /// Moves one batch of credentials with any secret under another key to the current key;
    /// returns how many. A value no configured key can read stops the run, naming the credential.
    /// </summary>
    public async Task<int> ReencryptBatchAsync(CancellationToken ct)
    {
        var current = box.CurrentKeyId ?? throw new SecretUnreadableException("no encryption key is configured (Encryption:CurrentKeyId)");
        await using var c = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var prefix = $"{SecretBox.Prefix}{current}:%";
        var rows = (await c.QueryAsync<LockedCredential>(new CommandDefinition("""
            select c.id, k.name as connector, c.client_secret_encrypted as clientsecretencrypted,
                   c.refresh_token_encrypted as refreshtokenencrypted, c.access_token_encrypted as accesstokenencrypted
            from oauth_credentials c join connectors k on k.id = c.connector_id
            where c.client_secret_encrypted not like @prefix or c.refresh_token_encrypted not like @prefix or c.access_token_encrypted not like @prefix
            limit @batch
            for update of c skip locked
            """, new { prefix, batch = settings.ReencryptBatchSize }, tx, cancellationToken: ct))).ToList();
        foreach (var row in rows)
        {
            string? Move(string? envelope, string column)
            {
                if (envelope is null || box.IsCurrent(envelope)) return envelope;
                try
                {
                    var context = SecretBox.Context(row.Id, column);
                    return box.Encrypt(box.Decrypt(envelope, context), context);
                }
                catch (SecretUnreadableException e)
                {
                    throw new SecretUnreadableException($"credential {row.Id} (connector '{row.Connector}') {column}: {e.Message}");
                }
            }
            await c.ExecuteAsync(new CommandDefinition("""
                update oauth_credentials set client_secret_encrypted = @secret, refresh_token_encrypted = @refresh, access_token_encrypted = @access where id = @id
                """, new
            {
                row.Id,
                secret = Move(row.ClientSecretEncrypted, "client_secret_encrypted"),
                refresh = Move(row.RefreshTokenEncrypted, "refresh_token_encrypted"),
                access = Move(row.AccessTokenEncrypted, "access_token_encrypted"),
            }, tx, cancellationToken: ct));
        }
        await tx.CommitAsync(ct);
        return rows.Count;
    }
}
