using System.Globalization;
using System.Text.Json.Nodes;
using Jobsd.Jobs.Tokens;

namespace Jobsd.Daemon.Api;

/// <summary>
/// <c>/api/credentials</c>: other systems store a connector's OAuth credential (encrypted before
/// it reaches SQL) and read credential state. No answer, error or log line ever carries a secret:
/// errors name the field, never its value.
/// </summary>
internal static class CredentialEndpoints
{
    private static readonly string[] Fields =
        ["team", "connector", "provider", "token_endpoint", "client_id", "client_secret", "refresh_token", "access_token", "expires_at", "client_auth", "scope"];

    private static readonly string[] SecretFields = ["client_secret", "refresh_token", "access_token"];

    public static void Map(RouteGroupBuilder api)
    {
        api.MapPost("/credentials", PutAsync);
        api.MapGet("/credentials", async (CredentialStore store, CancellationToken ct) => Results.Json(await store.ListAsync(ct), ApiEndpoints.Json));
    }

    private static async Task<IResult> PutAsync(HttpContext http, CredentialStore store, SecretBox box, TokenRefreshSettings settings, CancellationToken ct)
    {
        var caller = (ApiCaller)http.Items[typeof(ApiCaller)]!;
        var (body, problem) = await ApiEndpoints.ReadBodyAsync(http.Request, ct);
        if (problem is not null) return problem;
        var unknown = body!.Select(p => p.Key).FirstOrDefault(k => !Fields.Contains(k));
        if (unknown is not null) return ApiEndpoints.Problem(400, "unknown field", $"{unknown}: not a field of a credential (fields: {string.Join(", ", Fields)})", unknown);
        foreach (var (name, node) in body!)
        {
            if (node is not null && (node is not JsonValue v || !v.TryGetValue<string>(out _)))
            {
                return ApiEndpoints.Problem(400, "invalid field", $"{name}: must be a string", name);
            }
        }
        string? Get(string field) => body![field]?.GetValue<string>() is { Length: > 0 } s ? s : null;
        var (input, field, error) = CredentialInputs.Validate(
            Get("team"), Get("connector"), Get("provider"), Get("token_endpoint"), Get("client_id"), Get("client_secret"), Get("refresh_token"),
            Get("access_token"), Get("expires_at"), Get("client_auth"), Get("scope"), settings);
        if (input is null) return ApiEndpoints.Problem(400, "invalid credential", error!, field);
        if (!box.CanEncrypt) return ApiEndpoints.Problem(503, "no encryption key", "jobsd has no encryption key configured (Encryption:Keys, Encryption:CurrentKeyId), so it cannot store secrets", null);
        try
        {
            var (credential, connector, created) = await store.PutAsync(input, "api:" + caller.Name, ct);
            return Results.Json(new { credential_id = credential, connector_id = connector, created }, ApiEndpoints.Json,
                statusCode: created ? StatusCodes.Status201Created : StatusCodes.Status200OK);
        }
        catch (ArgumentException e) when (e.ParamName == "team")
        {
            return ApiEndpoints.Problem(400, "invalid credential", e.Message.Split(" (Parameter")[0], "team");
        }
    }
}

/// <summary>The checks every way of storing a credential shares (API, CLI); messages name fields, never secret values.</summary>
public static class CredentialInputs
{
    public static (CredentialInput? Input, string? Field, string? Error) Validate(string? team, string? connector, string? provider, string? tokenEndpoint,
        string? clientId, string? clientSecret, string? refreshToken, string? accessToken, string? expiresAt, string? clientAuth, string? scope,
        TokenRefreshSettings settings)
    {
        static (CredentialInput?, string?, string?) Fail(string f, string e) => (null, f, e);
        if (team is null) return Fail("team", "team: required (the team's id or name)");
        if (connector is null) return Fail("connector", "connector: required (the connector's name, unique in its team)");
        if (connector.Length > 200) return Fail("connector", "connector: at most 200 characters");
        if (tokenEndpoint is null) return Fail("token_endpoint", "token_endpoint: required");
        if (settings.EndpointProblem(tokenEndpoint) is { } endpointProblem) return Fail("token_endpoint", "token_endpoint: " + endpointProblem);
        if (clientId is null) return Fail("client_id", "client_id: required");
        if (refreshToken is null) return Fail("refresh_token", "refresh_token: required");
        var auth = clientAuth ?? "basic";
        if (auth is not ("basic" or "post")) return Fail("client_auth", $"client_auth: '{auth}' is not basic or post");
        DateTimeOffset? expires = null;
        if (expiresAt is not null)
        {
            if (accessToken is null) return Fail("expires_at", "expires_at: only with an access_token");
            if (!DateTimeOffset.TryParse(expiresAt, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed) || !(expiresAt.EndsWith('Z') || expiresAt.Contains('+') || expiresAt.LastIndexOf('-') > 9))
            {
                return Fail("expires_at", "expires_at: not an ISO 8601 time with an offset (e.g. 2026-12-01T03:00:00Z)");
            }
            expires = parsed;
        }
        return (new CredentialInput(team, connector, provider ?? "oauth2", tokenEndpoint, clientId, clientSecret, refreshToken, accessToken, expires, auth, scope), null, null);
    }
}
