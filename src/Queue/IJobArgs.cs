namespace Jobsd.Queue;

/// <summary>
/// The arguments of one kind of job. The kind string lives here, once; args travel as JSON
/// with snake_case names, so other systems can write them in SQL.
/// </summary>
public interface IJobArgs
{
    static abstract string Kind { get; }
}

/// <summary>A handler for one kind of job. Runs in its own DI scope per execution; must honour the token.</summary>
public interface IJob<in TArgs> where TArgs : IJobArgs
{
    Task ExecuteAsync(TArgs args, JobContext context, CancellationToken ct);
}
