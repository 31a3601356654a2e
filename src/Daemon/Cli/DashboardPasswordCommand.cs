using System.CommandLine;
using Jobsd.Daemon.Dashboard;

namespace Jobsd.Daemon.Cli;

/// <summary><c>jobsd dashboard-password</c>: reads a password on standard input, prints its PBKDF2 hash for Dashboard:PasswordHash.</summary>
public static class DashboardPasswordCommand
{
    public static Command Create()
    {
        var command = new Command("dashboard-password", "Hash a dashboard password (read from standard input) for Dashboard:PasswordHash");
        command.SetAction(_ =>
        {
            if (!Console.IsInputRedirected) Console.Error.Write("password: ");
            var password = Console.In.ReadLine();
            if (string.IsNullOrEmpty(password) || password.Length < 12)
            {
                Console.Error.WriteLine("jobsd: dashboard-password: give a password of at least 12 characters on standard input");
                return 2;
            }
            var hash = DashboardPassword.Hash(password);
            Console.WriteLine(hash);
            Console.Error.WriteLine("Set it as Dashboard:PasswordHash (with Dashboard:Access=basic and Dashboard:Username), e.g. in a systemd credential.");
            return 0;
        });
        return command;
    }
}
