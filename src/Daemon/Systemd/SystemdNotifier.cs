using System.Net.Sockets;
using System.Text;

namespace Jobsd.Daemon.Systemd;

/// <summary>
/// sd_notify(3) without libsystemd: one datagram per message to <c>$NOTIFY_SOCKET</c>
/// (a path, or an abstract name written with a leading <c>@</c>). Without the variable every
/// call is a no-op, so the same binary runs under systemd and in a terminal.
/// </summary>
public sealed class SystemdNotifier
{
    private readonly UnixDomainSocketEndPoint? _endpoint;
    private readonly Lock _gate = new();

    public SystemdNotifier(Func<string, string?> environment)
    {
        var socket = environment("NOTIFY_SOCKET");
        if (string.IsNullOrEmpty(socket)) return;
        // An abstract socket name has a NUL where systemd's variable shows '@'.
        _endpoint = new UnixDomainSocketEndPoint(socket[0] == '@' ? "\0" + socket[1..] : socket);

        if (long.TryParse(environment("WATCHDOG_USEC"), out var usec) && usec > 0)
        {
            // WATCHDOG_PID names the process systemd watches; another process must not ping for it.
            var pid = environment("WATCHDOG_PID");
            if (string.IsNullOrEmpty(pid) || pid == Environment.ProcessId.ToString())
            {
                WatchdogInterval = TimeSpan.FromTicks(usec * 10 / 2);
            }
        }
    }

    public bool IsEnabled => _endpoint is not null;

    /// <summary>Half of WATCHDOG_USEC when systemd expects pings from this process; otherwise null.</summary>
    public TimeSpan? WatchdogInterval { get; }

    public void Ready() => Send("READY=1");

    public void Stopping() => Send("STOPPING=1");

    public void Watchdog() => Send("WATCHDOG=1");

    /// <summary>One line for <c>systemctl status</c>; newlines would end the assignment, so they are flattened.</summary>
    public void Status(string status) => Send("STATUS=" + status.Replace('\n', ' '));

    public void Send(string state)
    {
        if (_endpoint is null) return;
        lock (_gate)
        {
            try
            {
                using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
                socket.Connect(_endpoint);
                socket.Send(Encoding.UTF8.GetBytes(state));
            }
            catch (SocketException)
            {
                // systemd went away or the socket is not ours to use: notifications are advisory.
            }
        }
    }
}
