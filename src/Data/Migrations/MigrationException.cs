namespace Jobsd.Data.Migrations;

/// <summary>A migration that could not run; the message names the script and, for SQL errors, the line.</summary>
public sealed class MigrationException(string message, Exception? inner = null) : Exception(message, inner);
