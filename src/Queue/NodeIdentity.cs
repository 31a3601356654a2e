namespace Jobsd.Queue;

/// <summary>
/// This process's name in <c>queue.nodes</c> and on every job it claims: host, pid and a
/// random suffix, so a restarted process (same pid after a container restart) is a new node
/// and can never complete its predecessor's jobs.
/// </summary>
public sealed class NodeIdentity
{
    public NodeIdentity(string? name = null)
    {
        Host = Environment.MachineName;
        Name = name ?? $"{Host}-{Environment.ProcessId}-{Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()[..3])}";
    }

    public string Name { get; }
    public string Host { get; }
}
