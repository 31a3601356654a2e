namespace Jobsd.TestSupport;

public static class RepositoryRoot
{
    /// <summary>The checkout the tests run from: the nearest folder above the test binary holding Daemon.sln.</summary>
    public static string Path { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Daemon.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException($"No Daemon.sln above {AppContext.BaseDirectory}");
    }
}
