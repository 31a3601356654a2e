using Dapper;
using Npgsql;

namespace Jobsd.Jobs;

/// <summary>audit_events rows the job families write, inside the caller's transaction so the event exists exactly when the change does. Data never carries a secret.</summary>
public static class AuditEvents
{
    public static Task WriteAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Guid team, string actor, string action, string targetType, string targetId,
        object data, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition("""
            insert into audit_events (team_id, actor, action, target_type, target_id, data)
            values (@team, @actor, @action, @type, @target, @data::jsonb)
            """, new { team, actor, action, type = targetType, target = targetId, data = System.Text.Json.JsonSerializer.Serialize(data) },
            tx, cancellationToken: ct));
}
