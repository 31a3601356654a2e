using System.Collections.Concurrent;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Jobsd.Daemon.Tests;

/// <summary>
/// An OAuth token endpoint on loopback Kestrel. Each request is recorded, then answered by the
/// next scripted answer (or the default one): tests decide status, body, headers and delay.
/// </summary>
public sealed class FakeTokenEndpoint : IAsyncDisposable
{
    public sealed record Request(string? Authorization, Dictionary<string, string> Form);

    public sealed record Answer(int Status, string Body, string? RetryAfter = null, TimeSpan Delay = default);

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<Answer> _script = new();

    public ConcurrentQueue<Request> Requests { get; } = new();
    public Func<Request, Answer> Default { get; set; } = _ => Token("access-default", 3600);
    public string Url { get; private set; } = "";

    private FakeTokenEndpoint(WebApplication app) => _app = app;

    public static Answer Token(string access, int expiresIn, string? refresh = null) =>
        new(200, System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["access_token"] = access, ["token_type"] = "Bearer", ["expires_in"] = expiresIn, ["refresh_token"] = refresh,
        }.Where(p => p.Value is not null).ToDictionary()));

    public static Answer Error(int status, string error, string? description = null) =>
        new(status, System.Text.Json.JsonSerializer.Serialize(new { error, error_description = description }));

    public void Then(params Answer[] answers)
    {
        foreach (var a in answers) _script.Enqueue(a);
    }

    public static async Task<FakeTokenEndpoint> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var endpoint = new FakeTokenEndpoint(app);
        app.MapPost("/token", async (HttpContext http) =>
        {
            var form = (await http.Request.ReadFormAsync()).ToDictionary(f => f.Key, f => f.Value.ToString());
            var request = new Request(http.Request.Headers.Authorization.ToString() is { Length: > 0 } a ? a : null, form);
            endpoint.Requests.Enqueue(request);
            var answer = endpoint._script.TryDequeue(out var scripted) ? scripted : endpoint.Default(request);
            if (answer.Delay > TimeSpan.Zero) await Task.Delay(answer.Delay);
            if (answer.RetryAfter is not null) http.Response.Headers.RetryAfter = answer.RetryAfter;
            http.Response.StatusCode = answer.Status;
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync(answer.Body);
        });
        await app.StartAsync();
        endpoint.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/token";
        return endpoint;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
