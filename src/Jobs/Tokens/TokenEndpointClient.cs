using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Jobsd.Jobs.Tokens;

/// <summary>What a refresh needs to send: never logged, never stored as is.</summary>
public sealed record RefreshRequest(string TokenEndpoint, string ClientId, string? ClientSecret, string RefreshToken, string ClientAuth, string? Scope);

/// <summary>A successful token response (RFC 6749 §5.1).</summary>
public sealed record TokenGrant(string AccessToken, string TokenType, TimeSpan? ExpiresIn, string? RefreshToken, string? Scope);

public enum RefreshFailure
{
    /// <summary>The grant or the client is no longer accepted: an operator must reconnect it; no retry.</summary>
    ReauthRequired,
    /// <summary>Worth another try later: 5xx, 429, timeout, network, other errors.</summary>
    Retry,
    /// <summary>The endpoint answered 2xx with something that is not a token response.</summary>
    Malformed,
}

/// <summary>Why a refresh did not produce a token. <see cref="Message"/> never contains a secret.</summary>
public sealed record RefreshError(RefreshFailure Kind, string Message, TimeSpan? RetryAfter = null);

/// <summary>
/// Posts the <c>refresh_token</c> grant to a token endpoint and classifies the answer. Client
/// authentication is <c>client_secret_basic</c> (form-encoded id and secret in the Authorization
/// header, RFC 6749 §2.3.1) or <c>client_secret_post</c> (in the body). Whatever the endpoint
/// echoes back, the secrets sent are scrubbed from every message before it leaves here.
/// </summary>
public sealed class TokenEndpointClient(HttpClient http, TokenRefreshSettings settings)
{
    private static readonly string[] ReauthErrors = ["invalid_grant", "unauthorized_client", "invalid_client"];

    public async Task<(TokenGrant? Grant, RefreshError? Error)> RefreshAsync(RefreshRequest request, CancellationToken ct)
    {
        if (settings.EndpointProblem(request.TokenEndpoint) is { } problem) return (null, new RefreshError(RefreshFailure.Retry, problem));
        var form = new List<KeyValuePair<string, string>> { new("grant_type", "refresh_token"), new("refresh_token", request.RefreshToken) };
        if (request.Scope is { Length: > 0 } scope) form.Add(new("scope", scope));
        using var message = new HttpRequestMessage(HttpMethod.Post, request.TokenEndpoint);
        if (request.ClientAuth == "post")
        {
            form.Add(new("client_id", request.ClientId));
            if (request.ClientSecret is not null) form.Add(new("client_secret", request.ClientSecret));
        }
        else if (request.ClientSecret is not null)
        {
            var pair = $"{Uri.EscapeDataString(request.ClientId)}:{Uri.EscapeDataString(request.ClientSecret)}";
            message.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(pair)));
        }
        else
        {
            form.Add(new("client_id", request.ClientId)); // a public client identifies itself in the body
        }
        message.Content = new FormUrlEncodedContent(form);
        message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(settings.HttpTimeout);
        HttpResponseMessage response;
        string body;
        try
        {
            response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            body = await ReadCappedAsync(response, timeout.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return (null, new RefreshError(RefreshFailure.Retry, $"no answer from the token endpoint within {settings.HttpTimeout.TotalSeconds:0.#} s"));
        }
        catch (HttpRequestException e)
        {
            return (null, new RefreshError(RefreshFailure.Retry, Scrub($"token endpoint unreachable: {e.Message}", request)));
        }
        using (response)
        {
            return Classify(response, body, request);
        }
    }

    private static (TokenGrant?, RefreshError?) Classify(HttpResponseMessage response, string body, RefreshRequest request)
    {
        var status = (int)response.StatusCode;
        JsonElement? json = null;
        try
        {
            using var doc = JsonDocument.Parse(body);
            json = doc.RootElement.Clone();
        }
        catch (JsonException)
        {
        }

        if (status is >= 200 and < 300)
        {
            if (json is not { ValueKind: JsonValueKind.Object } o) return (null, new RefreshError(RefreshFailure.Malformed, $"HTTP {status} but the body is not a JSON object"));
            if (!o.TryGetProperty("access_token", out var access) || access.ValueKind != JsonValueKind.String || access.GetString() is not { Length: > 0 } accessToken)
            {
                return (null, new RefreshError(RefreshFailure.Malformed, $"HTTP {status} but the response has no access_token"));
            }
            TimeSpan? expiresIn = null;
            if (o.TryGetProperty("expires_in", out var expires) && expires.ValueKind != JsonValueKind.Null)
            {
                // Some servers send the number as a string; anything that is not a positive number is not a lifetime.
                var seconds = expires.ValueKind == JsonValueKind.Number ? expires.GetDouble()
                    : expires.ValueKind == JsonValueKind.String && double.TryParse(expires.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var s) ? s : double.NaN;
                if (double.IsNaN(seconds) || seconds <= 0 || seconds > TimeSpan.FromDays(3650).TotalSeconds)
                {
                    return (null, new RefreshError(RefreshFailure.Malformed, $"HTTP {status} but expires_in is not a positive number of seconds ({Short(expires.GetRawText(), request)})"));
                }
                expiresIn = TimeSpan.FromSeconds(seconds);
            }
            var tokenType = o.TryGetProperty("token_type", out var type) && type.ValueKind == JsonValueKind.String ? type.GetString()! : "Bearer";
            var rotated = o.TryGetProperty("refresh_token", out var refresh) && refresh.ValueKind == JsonValueKind.String && refresh.GetString() is { Length: > 0 } r ? r : null;
            var scope = o.TryGetProperty("scope", out var sc) && sc.ValueKind == JsonValueKind.String ? sc.GetString() : null;
            return (new TokenGrant(accessToken, tokenType, expiresIn, rotated, scope), null);
        }

        var error = json is { ValueKind: JsonValueKind.Object } e && e.TryGetProperty("error", out var err) && err.ValueKind == JsonValueKind.String ? err.GetString() : null;
        var description = json is { ValueKind: JsonValueKind.Object } d && d.TryGetProperty("error_description", out var desc) && desc.ValueKind == JsonValueKind.String ? desc.GetString() : null;
        var what = $"HTTP {status}" + (error is null ? "" : $" {Short(error, request)}") + (description is null ? "" : $": {Short(description, request)}");
        if (status is 400 or 401 && error is not null && ReauthErrors.Contains(error)) return (null, new RefreshError(RefreshFailure.ReauthRequired, what));
        if (status == 429 || status == 503)
        {
            return (null, new RefreshError(RefreshFailure.Retry, what, RetryAfter(response)));
        }
        return (null, new RefreshError(RefreshFailure.Retry, what));
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta) return delta;
        if (header?.Date is { } date) return date - DateTimeOffset.UtcNow is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        return null;
    }

    /// <summary>At most 64 KiB of body: a token response is small, a misbehaving endpoint must not fill memory.</summary>
    private static async Task<string> ReadCappedAsync(HttpResponseMessage response, CancellationToken ct)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[64 * 1024];
        var total = 0;
        int read;
        while (total < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(total), ct)) > 0) total += read;
        return Encoding.UTF8.GetString(buffer, 0, total);
    }

    private static string Short(string text, RefreshRequest request)
    {
        text = Scrub(text, request);
        return text.Length <= 200 ? text : text[..200] + "…";
    }

    /// <summary>Removes the secrets of this request from a text the endpoint (or a library) produced.</summary>
    public static string Scrub(string text, RefreshRequest request)
    {
        foreach (var secret in new[] { request.RefreshToken, request.ClientSecret })
        {
            if (secret is { Length: >= 4 }) text = text.Replace(secret, "***", StringComparison.Ordinal);
        }
        return text;
    }
}
