using Jobsd.Queue;
using Npgsql;

namespace Jobsd.Jobs.Partitions;

/// <summary>Args of the partition keeper's job: none, it works through every configured table.</summary>
public sealed record PartitionArgs : IJobArgs
{
    public static string Kind => "audit-partitions";
}

/// <summary>
/// Runs the <see cref="PartitionKeeper"/> for every configured table. A table that cannot be
/// locked in time is retried with the job (the application was busy with it); a misconfigured
/// table fails the job for good, naming the table — after the other tables were looked after.
/// </summary>
public sealed class PartitionsJob(PartitionKeeper keeper, PartitionSettings settings, TimeProvider clock) : IJob<PartitionArgs>
{
    public async Task ExecuteAsync(PartitionArgs args, JobContext context, CancellationToken ct)
    {
        var permanent = new List<string>();
        var retry = new List<string>();
        foreach (var (table, config) in settings.Tables)
        {
            try
            {
                await keeper.RunAsync(table, config, clock.GetUtcNow(), ct);
            }
            catch (JobPermanentException e)
            {
                permanent.Add(e.Message);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable)
            {
                retry.Add($"partitions: could not lock {table} within {settings.LockTimeout.TotalSeconds:0.#} s (the application is using it); will retry");
            }
        }
        if (retry.Count > 0) throw new InvalidOperationException(string.Join("; ", retry.Concat(permanent)));
        if (permanent.Count > 0) throw new JobPermanentException(string.Join("; ", permanent));
    }
}
