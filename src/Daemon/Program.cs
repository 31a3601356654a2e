using Jobsd.Daemon.Cli;

return await JobsdCommandLine.InvokeAsync(args);
