namespace Jobsd.Bench;

/// <summary>Where the cluster and the jobsd binary are; bench/run sets these.</summary>
public sealed record BenchSettings(string PgBin, string Socket, int Port, string Jobsd, int Jobs, int LatencySamples, int PgbenchSeconds)
{
    public static BenchSettings FromEnvironment()
    {
        string Need(string name) => Environment.GetEnvironmentVariable(name) ?? throw new InvalidOperationException($"{name} is not set; run bench/run");
        int Int(string name, int fallback) => int.TryParse(Environment.GetEnvironmentVariable(name), out var v) ? v : fallback;
        return new BenchSettings(Need("JOBSD_PG_BIN"), Need("JOBSD_PG_SOCKET"), int.Parse(Need("JOBSD_PG_PORT")), Need("JOBSD_BENCH_JOBSD"),
            Int("JOBSD_BENCH_JOBS", 20_000), Int("JOBSD_BENCH_LATENCY_SAMPLES", 500), Int("JOBSD_BENCH_PGBENCH_SECONDS", 10));
    }

    public string ConnectionString(string database) => $"Host={Socket};Port={Port};Username=jobsd;Database={database};Maximum Pool Size=50";
}
