using System.Diagnostics;
using Jobsd.TestSupport;

namespace Jobsd.Daemon.Tests;

public sealed class SystemdUnitTests
{
    private static readonly string Unit = Path.Combine(RepositoryRoot.Path, "deploy", "systemd", "jobsd.service");

    [Fact]
    public async Task The_unit_passes_systemd_analyze_verify()
    {
        if (!File.Exists("/usr/bin/systemd-analyze")) Assert.Fail("systemd-analyze is missing (Debian package systemd)");
        // verify checks that ExecStart exists; point it at a binary that does, keep everything else.
        var dir = Directory.CreateTempSubdirectory("jobsd-unit-").FullName;
        var copy = Path.Combine(dir, "jobsd.service");
        File.WriteAllText(copy, File.ReadAllText(Unit).Replace("/opt/jobsd/jobsd", "/bin/true"));
        try
        {
            var psi = new ProcessStartInfo("systemd-analyze", ["verify", copy]) { RedirectStandardError = true, RedirectStandardOutput = true };
            using var p = Process.Start(psi)!;
            var stderr = await p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync();
            Assert.True(p.ExitCode == 0 && stderr.Trim().Length == 0, $"systemd-analyze verify: {stderr}");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void The_unit_declares_the_contract_jobsd_relies_on()
    {
        var text = File.ReadAllText(Unit);
        foreach (var line in new[] { "Type=notify", "Restart=on-failure", "ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes", "SystemCallFilter=@system-service", "RestartPreventExitStatus=78" })
        {
            Assert.Contains(line + "\n", text);
        }
        Assert.Matches(@"WatchdogSec=\d+s", text);
        Assert.Matches(@"LoadCredential=Database__Password:", text);
        var stop = int.Parse(System.Text.RegularExpressions.Regex.Match(text, @"TimeoutStopSec=(\d+)s").Groups[1].Value);
        Assert.True(stop > 30, "TimeoutStopSec must exceed the engine's 30 s shutdown timeout");
    }
}
