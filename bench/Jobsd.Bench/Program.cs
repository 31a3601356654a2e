using System.Diagnostics;
using System.Globalization;
using Jobsd.Bench;

// End-to-end benchmark of jobsd on one throwaway cluster, every figure from the same run so
// ratios against pgbench cancel out the machine's noise. Run through bench/run.
var settings = BenchSettings.FromEnvironment();
var bench = new EndToEnd(settings);
var results = await bench.RunAsync();
results.Print(Console.Out);
return 0;
