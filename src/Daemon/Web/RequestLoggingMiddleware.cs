using System.Diagnostics;

namespace Jobsd.Daemon.Web;

/// <summary>
/// One log line per HTTP request (method, path, status, duration, request id) and an
/// <c>X-Request-ID</c> on every response, kept from the caller when it sent a sane one.
/// Probe endpoints are not logged: they would drown everything else.
/// </summary>
public sealed partial class RequestLoggingMiddleware(RequestDelegate next, ILogger<RequestLoggingMiddleware> logger)
{
    public const string Header = "X-Request-ID";
    private static readonly string[] Quiet = ["/healthz", "/readyz", "/metrics"];

    public async Task InvokeAsync(HttpContext context)
    {
        var requestId = context.Request.Headers[Header].ToString();
        if (!IsAcceptable(requestId)) requestId = Guid.NewGuid().ToString("N");
        context.TraceIdentifier = requestId;
        context.Response.Headers[Header] = requestId;

        var path = context.Request.Path.Value ?? "/";
        if (Quiet.Contains(path, StringComparer.OrdinalIgnoreCase))
        {
            await next(context);
            return;
        }
        var started = Stopwatch.GetTimestamp();
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["RequestId"] = requestId });
        try
        {
            await next(context);
        }
        finally
        {
            Request(logger, context.Request.Method, path, context.Response.StatusCode,
                Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 1), requestId);
        }
    }

    /// <summary>Printable, short and without separators that could forge log lines or headers.</summary>
    private static bool IsAcceptable(string id) =>
        id.Length is > 0 and <= 128 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':');

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "HTTP {Method} {Path} responded {StatusCode} in {ElapsedMs} ms (request {RequestId})")]
    private static partial void Request(ILogger logger, string method, string path, int statusCode, double elapsedMs, string requestId);
}
