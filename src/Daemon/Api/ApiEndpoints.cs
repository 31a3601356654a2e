using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Jobsd.Queue;
using Jobsd.Queue.Recurring;
using Npgsql;

namespace Jobsd.Daemon.Api;

/// <summary>What the API answers about one job.</summary>
public sealed record JobResponse(long Id, string State, bool Existing);

/// <summary>
/// <c>/api</c>: the HTTP API for other systems. Every call needs a bearer key
/// (<see cref="ApiKeys"/>) and is rate limited per key; every error is
/// <c>application/problem+json</c> naming the field at fault.
/// </summary>
public static class ApiEndpoints
{
    public const long MaxBodyBytes = 1 << 20;

    /// <summary>
    /// The API's OpenAPI document, written by hand (src/Daemon/Api/openapi.json, embedded): the
    /// generator pulled MVC's API explorer into every start for eight operations. A test checks
    /// that every mapped /api route is in it.
    /// </summary>
    public static readonly string OpenApiDocument = ReadDocument();

    private static string ReadDocument()
    {
        using var stream = typeof(ApiEndpoints).Assembly.GetManifestResourceStream("jobsd.openapi.json")
            ?? throw new InvalidOperationException("openapi.json is not embedded");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    private static readonly string[] EnqueueFields = ["kind", "args", "queue", "run_at", "priority", "max_attempts", "unique_key", "tags"];

    public static void MapJobsdApi(this WebApplication app)
    {
        var api = app.MapGroup("/api").AddEndpointFilter(AuthenticateAsync);
        api.MapPost("/jobs", EnqueueAsync);
        api.MapGet("/jobs/{id:long}", GetAsync);
        api.MapPost("/jobs/{id:long}/cancel", (long id, JobClient jobs, CancellationToken ct) => ActAsync(id, "cancel", jobs.CancelAsync(id, "cancelled through the API", ct)));
        api.MapPost("/jobs/{id:long}/retry", (long id, JobClient jobs, CancellationToken ct) => ActAsync(id, "retry", jobs.RetryAsync(id, ct)));
        api.MapDelete("/jobs/{id:long}", (long id, JobClient jobs, CancellationToken ct) => ActAsync(id, "delete", jobs.DeleteAsync(id, "deleted through the API", ct)));
        api.MapGet("/queues", async (JobMonitor monitor, CancellationToken ct) => Results.Json(await monitor.QueuesAsync(ct), Json));
        api.MapGet("/recurring", async (RecurringClient recurring, CancellationToken ct) => Results.Json(await recurring.ListAsync(ct), Json));
        api.MapPost("/recurring/{name}/trigger", TriggerAsync);
        api.MapGet("/builds/{id}/logs", BuildLogsAsync);
        CredentialEndpoints.Map(api);
    }

    /// <summary>
    /// The build is read before its lines: the runner stores every line before it marks the build
    /// final, so a page that says final holds (with the pages before it) the whole log.
    /// </summary>
    internal static async Task<IResult> BuildLogsAsync(string id, string? after, string? limit, Jobs.Builds.BuildLogReader logs, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var buildId)) return Problem(400, "invalid build id", $"'{id}' is not a UUID", "id");
        long afterId = 0;
        if (after is not null && (!long.TryParse(after, NumberStyles.None, CultureInfo.InvariantCulture, out afterId)))
        {
            return Problem(400, "invalid after", $"after '{after}' is not a line id (a whole number ≥ 0)", "after");
        }
        var take = 1000;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out take) || take is < 1 or > Jobs.Builds.BuildLogReader.MaxPage))
        {
            return Problem(400, "invalid limit", $"limit '{limit}' must be between 1 and {Jobs.Builds.BuildLogReader.MaxPage}", "limit");
        }
        var build = await logs.BuildAsync(buildId, ct);
        if (build is null) return Problem(404, "build not found", $"no build job {buildId}", "id");
        var lines = await logs.LinesAsync(buildId, afterId, take, ct);
        return Results.Json(new
        {
            build,
            lines,
            next_after = lines.Count > 0 ? lines[^1].Id : afterId,
            final = build.Final,
        }, Json);
    }

    private static async ValueTask<object?> AuthenticateAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var keys = http.RequestServices.GetRequiredService<ApiKeys>();
        var header = http.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length <= 7)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
            return Problem(401, "missing API key",
                keys.AnyConfigured ? "send 'Authorization: Bearer <key>'" : "no API keys are configured (Api:Keys); create one with 'jobsd api-key create NAME'", "authorization");
        }
        var caller = keys.Authenticate(header[7..].Trim());
        if (caller is null)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
            return Problem(401, "unknown API key", "the bearer key matches no configured key", "authorization");
        }
        if (!keys.TryAcquire(caller, out var retryAfter))
        {
            http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            return Problem(429, "rate limit exceeded", $"key '{caller.Name}' sent more than its rate limit allows (Api:RateLimit); retry after the Retry-After seconds", null);
        }
        http.Items[typeof(ApiCaller)] = caller;
        return await next(context);
    }

    private static async Task<IResult> EnqueueAsync(HttpContext http, JobClient jobs, JobRegistry registry, CancellationToken ct)
    {
        var caller = (ApiCaller)http.Items[typeof(ApiCaller)]!;
        var (body, problem) = await ReadBodyAsync(http.Request, ct);
        if (problem is not null) return problem;

        string? Text(string field, out IResult? error)
        {
            error = null;
            if (!body!.TryGetPropertyValue(field, out var node) || node is null) return null;
            if (node is JsonValue v && v.TryGetValue<string>(out var s)) return s;
            error = Problem(400, "invalid field", $"{field}: must be a string", field);
            return null;
        }
        int? Number(string field, out IResult? error)
        {
            error = null;
            if (!body!.TryGetPropertyValue(field, out var node) || node is null) return null;
            if (node is JsonValue v && v.TryGetValue<int>(out var i)) return i;
            error = Problem(400, "invalid field", $"{field}: must be a whole number", field);
            return null;
        }

        var unknown = body!.Select(p => p.Key).Where(k => !EnqueueFields.Contains(k)).ToList();
        if (unknown.Count > 0) return Problem(400, "unknown field", $"{unknown[0]}: not a field of a job (fields: {string.Join(", ", EnqueueFields)})", unknown[0]);
        var kind = Text("kind", out var e1);
        if (e1 is not null) return e1;
        if (string.IsNullOrWhiteSpace(kind)) return Problem(400, "missing field", "kind: required (the job kind to run)", "kind");
        if (!caller.MayEnqueue(kind)) return Problem(403, "kind not allowed", $"key '{caller.Name}' may not enqueue kind '{kind}' (Api:Keys:{caller.Name}:Kinds)", "kind");

        var argsNode = body!["args"];
        if (argsNode is not null and not JsonObject) return Problem(400, "invalid field", "args: must be a JSON object", "args");
        var args = argsNode?.ToJsonString() ?? "{}";
        if (registry.TryGet(kind, out var registration))
        {
            try
            {
                args = JobArgsJson.Canonicalize(args, registration.ArgsType, kind, fromConfiguration: false);
            }
            catch (JobArgsException ex)
            {
                return Problem(400, "args do not bind", ex.Message, "args");
            }
        }
        var queue = Text("queue", out var e2);
        var uniqueKey = Text("unique_key", out var e3);
        var runAtText = Text("run_at", out var e4);
        var priority = Number("priority", out var e5);
        var maxAttempts = Number("max_attempts", out var e6);
        if (new[] { e2, e3, e4, e5, e6 }.FirstOrDefault(e => e is not null) is { } fieldError) return fieldError;
        DateTimeOffset? runAt = null;
        if (runAtText is not null)
        {
            if (!DateTimeOffset.TryParse(runAtText, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed) || !HasOffset(runAtText))
            {
                return Problem(400, "invalid field", $"run_at: '{runAtText}' is not an ISO 8601 time with an offset (e.g. 2026-12-01T03:00:00Z)", "run_at");
            }
            runAt = parsed;
        }
        if (priority is < 0 or > short.MaxValue) return Problem(400, "invalid field", $"priority: must be between 0 and 32767 (lower runs first), got {priority}", "priority");
        string[]? tags = null;
        if (body!["tags"] is { } tagsNode)
        {
            if (tagsNode is not JsonArray array || array.Any(t => t is not JsonValue tv || !tv.TryGetValue<string>(out _)))
            {
                return Problem(400, "invalid field", "tags: must be an array of strings", "tags");
            }
            tags = array.Select(t => t!.GetValue<string>()).ToArray();
        }

        var options = new EnqueueOptions
        {
            Queue = queue ?? (registration?.Options.Queue),
            RunAt = runAt,
            Priority = (short)(priority ?? 0),
            MaxAttempts = maxAttempts,
            UniqueKey = uniqueKey,
            Tags = tags,
        };
        try
        {
            var result = await jobs.EnqueueRawAsync(kind, args, options, allowUnknown: false, ct: ct);
            var response = new JobResponse(result.Id, await StateAsync(http, result.Id, ct), result.Existing);
            if (result.Existing) return Results.Json(response, Json);
            AddLocation(http, result.Id);
            return Results.Json(response, Json, statusCode: StatusCodes.Status201Created);
        }
        catch (PostgresException ex) when (ex.SqlState is "22023" or PostgresErrorCodes.CheckViolation)
        {
            var field = ex.MessageText.Contains("kind", StringComparison.Ordinal) ? "kind"
                : ex.MessageText.Contains("max_attempts", StringComparison.Ordinal) ? "max_attempts"
                : ex.ConstraintName == "jobs_queue_check" ? "queue" : null;
            var detail = ex.ConstraintName == "jobs_queue_check" ? $"queue: '{queue}' is not a queue name (lower-case letters, digits, '_', '.', '-')" : ex.MessageText;
            return Problem(400, "job refused", detail, field);
        }
    }

    private static void AddLocation(HttpContext http, long id) => http.Response.Headers.Location = $"{http.Request.PathBase}/api/jobs/{id}";

    private static bool HasOffset(string text) =>
        text.EndsWith('Z') || text.EndsWith('z') || System.Text.RegularExpressions.Regex.IsMatch(text, @"[+-]\d\d:?\d\d$");

    private static async Task<string> StateAsync(HttpContext http, long id, CancellationToken ct) =>
        (await http.RequestServices.GetRequiredService<JobMonitor>().GetAsync(id, ct))?.State ?? "unknown";

    private static async Task<IResult> GetAsync(long id, JobMonitor monitor, CancellationToken ct)
    {
        var job = await monitor.GetAsync(id, ct);
        if (job is null) return Problem(404, "job not found", $"no job {id}", "id");
        return Results.Json(new
        {
            job.Id, job.Queue, job.Kind, job.State, job.Reason, job.Attempt, job.MaxAttempts, job.Priority,
            Args = JsonNode.Parse(job.Args), Result = job.Result is null ? null : JsonNode.Parse(job.Result), Errors = JsonNode.Parse(job.Errors), job.UniqueKey, job.Tags, job.Node,
            job.CreatedAt, job.ScheduledAt, job.StartedAt, job.FinishedAt, job.CancelRequestedAt,
        }, Json);
    }

    private static async Task<IResult> ActAsync(long id, string action, Task<JobActionResult> act) => await act switch
    {
        JobActionResult.Done => Results.Json(new { id, result = "done" }, Json),
        JobActionResult.CancelRequested => Results.Json(new { id, result = "cancel_requested" }, Json, statusCode: StatusCodes.Status202Accepted),
        JobActionResult.NotFound => Problem(404, "job not found", $"no job {id}", "id"),
        _ => Problem(409, "action not allowed", $"job {id}: its state does not allow {action}", null),
    };

    private static async Task<IResult> TriggerAsync(string name, RecurringClient recurring, HttpContext http, CancellationToken ct)
    {
        var caller = (ApiCaller)http.Items[typeof(ApiCaller)]!;
        var job = await recurring.GetAsync(name, ct);
        if (job is null) return Problem(404, "recurring job not found", $"no recurring job '{name}'", "name");
        if (!caller.MayEnqueue(job.Kind)) return Problem(403, "kind not allowed", $"key '{caller.Name}' may not enqueue kind '{job.Kind}'", "name");
        var id = await recurring.TriggerAsync(name, ct);
        if (id is null) return Problem(404, "recurring job not found", $"no recurring job '{name}'", "name");
        AddLocation(http, id.Value);
        return Results.Json(new JobResponse(id.Value, await StateAsync(http, id.Value, ct), false), Json, statusCode: StatusCodes.Status201Created);
    }

    /// <summary>The body as a JSON object, at most <see cref="MaxBodyBytes"/>; or the problem answer.</summary>
    internal static async Task<(JsonObject? Body, IResult? Problem)> ReadBodyAsync(HttpRequest request, CancellationToken ct)
    {
        if (request.ContentLength > MaxBodyBytes) return (null, Problem(413, "body too large", $"the body is {request.ContentLength} bytes; the limit is {MaxBodyBytes}", null));
        if (request.ContentType is { } type && !type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            return (null, Problem(415, "unsupported media type", $"send application/json, not '{type}'", null));
        }
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes) return (null, Problem(413, "body too large", $"the body is over the limit of {MaxBodyBytes} bytes", null));
            buffer.Write(chunk, 0, read);
        }
        try
        {
            var node = JsonNode.Parse(buffer.ToArray(), documentOptions: new JsonDocumentOptions { MaxDepth = 64 });
            return node is JsonObject obj ? (obj, null) : (null, Problem(400, "invalid body", "the body must be a JSON object", null));
        }
        catch (JsonException ex)
        {
            return (null, Problem(400, "malformed JSON", $"the body is not valid JSON: {ex.Message}", null));
        }
    }

    internal static IResult Problem(int status, string title, string detail, string? field) =>
        Results.Problem(detail: detail, statusCode: status, title: title,
            extensions: field is null ? null : new Dictionary<string, object?> { ["field"] = field });
}
