namespace Jobsd.Daemon.Dashboard;

/// <summary>The dashboard's stylesheet and script, served from memory: no CDN, nothing external (hosts are often offline).</summary>
internal static class DashboardAssets
{
    public const string Css = """
        :root { --fg: #1d2430; --muted: #5b6575; --line: #d9dee6; --bg: #f6f7f9; --accent: #2457c5; --bad: #b42318; --ok: #1f7a3a; --warn: #9a6700; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
        header { display: flex; gap: 1.5rem; align-items: center; padding: .6rem 1.2rem; background: #fff; border-bottom: 1px solid var(--line); }
        nav a { margin-right: 1rem; color: var(--muted); text-decoration: none; }
        nav a.active { color: var(--fg); font-weight: 600; }
        main { padding: 1rem 1.2rem; max-width: 1400px; }
        h1 { font-size: 1.3rem; margin: .2rem 0 1rem; }
        h2 { font-size: 1.05rem; margin: 1.4rem 0 .5rem; }
        table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
        th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
        .cards { display: flex; flex-wrap: wrap; gap: .8rem; }
        .card { background: #fff; border: 1px solid var(--line); padding: .6rem 1rem; min-width: 9rem; }
        .card .n { font-size: 1.5rem; font-weight: 600; display: block; }
        .card a { color: inherit; text-decoration: none; }
        .failed, .late { color: var(--bad); font-weight: 600; }
        .succeeded { color: var(--ok); }
        .paused { color: var(--warn); font-weight: 600; }
        .flash { background: #e8f0fe; border: 1px solid #b6cdf8; padding: .5rem .8rem; }
        .badge { background: var(--warn); color: #fff; padding: .1rem .5rem; border-radius: 3px; font-size: 12px; }
        form.inline { display: inline; }
        button { font: inherit; padding: .2rem .7rem; border: 1px solid var(--line); background: #fff; cursor: pointer; }
        button.danger { color: var(--bad); border-color: #f1b5af; }
        pre { background: #fff; border: 1px solid var(--line); padding: .6rem; overflow: auto; max-height: 30rem; }
        dl { display: grid; grid-template-columns: 11rem 1fr; gap: .25rem 1rem; background: #fff; border: 1px solid var(--line); padding: .8rem; }
        dt { color: var(--muted); }
        dd { margin: 0; }
        .filters input, .filters select { font: inherit; padding: .2rem .4rem; }
        .filters { margin: .6rem 0; display: flex; gap: .5rem; flex-wrap: wrap; align-items: center; }
        .tabs a { margin-right: .8rem; }
        .tabs a.active { font-weight: 600; color: var(--fg); }
        svg.graph { background: #fff; border: 1px solid var(--line); width: 100%; max-width: 720px; height: 160px; }
        .legend span { margin-right: 1rem; }
        .muted { color: var(--muted); }
        pre.log { max-height: 70vh; font-size: 12.5px; line-height: 1.35; white-space: pre-wrap; word-break: break-all; }
        pre.log .stderr { color: var(--bad); }
        """;

    public const string Js = """
        // Progressive enhancement only: every page works without this script.
        document.addEventListener('DOMContentLoaded', () => {
          for (const el of document.querySelectorAll('[data-refresh]')) {
            setInterval(async () => {
              try {
                const r = await fetch(el.dataset.refresh, { headers: { 'Accept': 'text/html' }, credentials: 'same-origin' });
                if (r.ok) el.innerHTML = await r.text();
              } catch (e) { /* the next tick tries again */ }
            }, 5000);
          }
          for (const form of document.querySelectorAll('form[data-confirm]')) {
            form.addEventListener('submit', e => { if (!confirm(form.dataset.confirm)) e.preventDefault(); });
          }
          const log = document.getElementById('log');
          if (log && log.dataset.follow) followLog(log);
          const all = document.getElementById('select-all');
          if (all) all.addEventListener('change', () => {
            for (const box of document.querySelectorAll('input[name="ids"]')) box.checked = all.checked;
          });
        });

        // Appends new lines of a running build every second; stops once a page says final and brings
        // nothing new. Keeps the view at the bottom only if the reader was there.
        function followLog(log) {
          let after = Number(log.dataset.after || 0);
          let final = log.dataset.final === 'true';
          const status = document.getElementById('build-status');
          const tick = async () => {
            try {
              const r = await fetch(log.dataset.follow + '?after=' + after, { credentials: 'same-origin' });
              if (r.ok) {
                const page = await r.json();
                const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
                for (const line of page.lines) {
                  const span = document.createElement('span');
                  span.className = line.stream;
                  span.textContent = line.line;
                  log.append(span, '\n');
                }
                if (page.lines.length > 0) document.getElementById('log-empty')?.remove();
                after = page.next_after;
                if (status) { status.textContent = page.build.status; status.className = page.build.status === 'completed' ? 'succeeded' : page.build.status; }
                if (atBottom) log.scrollTop = log.scrollHeight;
                // Ended: render the page again for the final fields (exit code, duration, artifact).
                if (page.final && page.lines.length === 0) { location.reload(); return; }
              }
            } catch (e) { /* the next tick tries again */ }
            setTimeout(tick, 1000);
          };
          if (!final) setTimeout(tick, 1000);
        }
        """;
}
