using System.Globalization;

namespace Jobsd.Bench;

public sealed class Results
{
    private readonly List<(string Measure, double Value, string Unit, bool Ratio)> _rows = [];

    public double PgbenchTps { get; set; }

    public void Add(string measure, double value, string unit, bool ratioToPgbench = false) => _rows.Add((measure, value, unit, ratioToPgbench));

    public void Print(TextWriter output)
    {
        output.WriteLine($"{"measure",-56} {"value",12} {"unit",-8} {"× pgbench TPS",14}");
        output.WriteLine(new string('-', 94));
        output.WriteLine($"{"pgbench single-row UPDATE, 8 clients",-56} {PgbenchTps,12:0} {"tps",-8} {1.0,14:0.00}");
        foreach (var (measure, value, unit, ratio) in _rows)
        {
            var r = ratio && PgbenchTps > 0 ? (value / PgbenchTps).ToString("0.00", CultureInfo.InvariantCulture) : "";
            output.WriteLine($"{measure,-56} {value,12:0.0} {unit,-8} {r,14}");
        }
    }
}
