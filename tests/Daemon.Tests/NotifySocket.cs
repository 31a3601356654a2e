using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;

namespace Jobsd.Daemon.Tests;

/// <summary>Plays systemd's side of sd_notify: a unix datagram socket collecting every message.</summary>
internal sealed class NotifySocket : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly Channel<string> _messages = Channel.CreateUnbounded<string>();
    private readonly string? _file;
    private readonly CancellationTokenSource _stop = new();

    public NotifySocket(bool @abstract = false)
    {
        var name = "jobsd-notify-" + Guid.NewGuid().ToString("N")[..12];
        if (@abstract)
        {
            _socket.Bind(new UnixDomainSocketEndPoint("\0" + name));
            Address = "@" + name;
        }
        else
        {
            _file = Path.Combine(Path.GetTempPath(), name + ".sock");
            _socket.Bind(new UnixDomainSocketEndPoint(_file));
            Address = _file;
        }
        _ = ReceiveAsync();
    }

    /// <summary>The value for NOTIFY_SOCKET.</summary>
    public string Address { get; }

    public List<string> Received { get; } = [];

    private async Task ReceiveAsync()
    {
        var buffer = new byte[4096];
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var n = await _socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                var message = Encoding.UTF8.GetString(buffer, 0, n);
                lock (Received) Received.Add(message);
                await _messages.Writer.WriteAsync(message);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    /// <summary>Waits for a message equal to <paramref name="expected"/>, returning all messages seen until then.</summary>
    public async Task<List<string>> WaitForAsync(string expected, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var seen = new List<string>();
        try
        {
            while (true)
            {
                var message = await _messages.Reader.ReadAsync(cts.Token);
                seen.Add(message);
                if (message == expected) return seen;
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"never received {expected}; got: {string.Join(" | ", seen)}");
        }
    }

    public int Count(string message)
    {
        lock (Received) return Received.Count(m => m == message);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        if (_file is not null) File.Delete(_file);
    }
}
