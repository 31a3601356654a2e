namespace Jobsd.Data;

/// <summary>
/// Opens once the database was reached and its schema is current. Every component that
/// touches the job tables waits on it, so nothing queries a schema that is not there yet.
/// </summary>
public sealed class DatabaseReadiness
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool IsReady => _ready.Task.IsCompletedSuccessfully;

    /// <summary>The reason the database is not ready yet, for STATUS= and /readyz.</summary>
    public string Status { get; private set; } = "starting";

    public Task WhenReady(CancellationToken ct) => _ready.Task.WaitAsync(ct);

    public void Waiting(string reason) => Status = reason;

    public void MarkReady()
    {
        Status = "ready";
        _ready.TrySetResult();
    }
}
