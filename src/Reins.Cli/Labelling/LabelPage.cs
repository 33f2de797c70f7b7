namespace Reins.Cli.Labelling;

/// <summary>The labelling app's two pages: plain HTML and JavaScript shipped in the binary, nothing from a CDN.</summary>
internal static class LabelPage
{
    private const string Style = """
        <style>
        body{font-family:system-ui,sans-serif;max-width:70em;margin:1.5em auto;padding:0 1em;color:#222}
        .pair{display:grid;grid-template-columns:1fr 1fr;gap:1em}.box{border:1px solid #ccc;border-radius:6px;padding:.8em;white-space:pre-wrap}
        #prompt{background:#f6f6f6}button{font-size:1em;padding:.5em 1em;margin:.3em}kbd{border:1px solid #aaa;border-radius:3px;padding:0 .3em}
        #error{color:#b00}textarea{width:100%;height:4em}table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left}
        </style>
        """;

    public const string Annotator = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Reins labelling</title>" + Style + """
        </head><body>
        <h1>Which response is better?</h1>
        <p id="progress"></p><p id="error" role="alert"></p>
        <div id="task" hidden>
          <h2>Prompt</h2><div id="prompt" class="box"></div>
          <div class="pair"><div><h2>A</h2><div id="left" class="box"></div></div><div><h2>B</h2><div id="right" class="box"></div></div></div>
          <div id="ratings"></div>
          <p><label>Reason (optional)<br><textarea id="reason" maxlength="2000"></textarea></label></p>
          <p>
            <button id="choose-left"><kbd>1</kbd> A is better</button><button id="choose-right"><kbd>2</kbd> B is better</button>
            <button id="tie"><kbd>t</kbd> Tie</button><button id="both-bad"><kbd>x</kbd> Both bad</button><button id="skip"><kbd>s</kbd> Skip</button>
          </p>
        </div>
        <p id="done" hidden>All done, thank you.</p>
        <script>
        const token = new URLSearchParams(location.search).get("token");
        let current = null, key = null, busy = false;
        const $ = id => document.getElementById(id);
        async function api(path, body) {
          const response = await fetch(path, { method: body ? "POST" : "GET", headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" }, body: body ? JSON.stringify(body) : undefined });
          const json = await response.json();
          if (!response.ok) throw new Error(json.error ? json.error.message : response.statusText);
          return json;
        }
        function newKey() { return Array.from(crypto.getRandomValues(new Uint8Array(16)), b => b.toString(16).padStart(2, "0")).join(""); }
        function showProgress(p) { $("progress").textContent = `${p.done} of ${p.total} labelled`; }
        async function load() {
          const next = await api("/api/next");
          showProgress(next.progress);
          if (next.finished) { current = null; $("task").hidden = true; $("done").hidden = false; return; }
          current = next; key = newKey();
          $("prompt").textContent = next.prompt; $("left").textContent = next.left; $("right").textContent = next.right;
          $("reason").value = "";
          const ratings = $("ratings"); ratings.replaceChildren();
          for (const attribute of next.attributes) {
            const label = document.createElement("label"); label.textContent = attribute + " (1–7, optional) ";
            const select = document.createElement("select"); select.name = attribute;
            for (const v of ["", "1", "2", "3", "4", "5", "6", "7"]) { const o = document.createElement("option"); o.value = v; o.textContent = v || "–"; select.append(o); }
            label.append(select); ratings.append(label, document.createElement("br"));
          }
          $("task").hidden = false; $("done").hidden = true;
        }
        async function submit(choice) {
          if (busy || !current) return;
          busy = true; $("error").textContent = "";
          try {
            const ratings = {};
            for (const select of document.querySelectorAll("#ratings select")) if (select.value) ratings[select.name] = Number(select.value);
            await api("/api/labels", { pair_id: current.pair_id, choice, ratings, reason: $("reason").value || null, idempotency_key: key });
            await load();
          } catch (e) { $("error").textContent = e.message; } finally { busy = false; }
        }
        async function skip() {
          if (busy || !current) return;
          busy = true;
          try { await api("/api/skip", { pair_id: current.pair_id }); await load(); } catch (e) { $("error").textContent = e.message; } finally { busy = false; }
        }
        $("choose-left").onclick = () => submit("left"); $("choose-right").onclick = () => submit("right");
        $("tie").onclick = () => submit("tie"); $("both-bad").onclick = () => submit("both_bad"); $("skip").onclick = skip;
        document.addEventListener("keydown", e => {
          if (e.target.tagName === "TEXTAREA" || e.target.tagName === "SELECT" || e.ctrlKey || e.metaKey || e.altKey) return;
          const action = { "1": () => submit("left"), "a": () => submit("left"), "2": () => submit("right"), "b": () => submit("right"), "t": () => submit("tie"), "x": () => submit("both_bad"), "s": skip }[e.key];
          if (action) { e.preventDefault(); action(); }
        });
        load().catch(e => $("error").textContent = e.message);
        </script></body></html>
        """;

    public const string Admin = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Reins labelling: admin</title>" + Style + """
        </head><body><h1>Labelling project</h1><p id="error" role="alert"></p><table id="summary"></table><h2>Annotators</h2><table id="annotators"></table>
        <p><a id="majority" href="#">export (majority)</a> · <a id="soft" href="#">export (soft)</a> · <a id="raw" href="#">export (raw labels)</a></p>
        <script>
        const token = new URLSearchParams(location.search).get("token");
        const headers = { "Authorization": "Bearer " + token };
        function row(table, cells, header) { const tr = document.createElement("tr"); for (const c of cells) { const td = document.createElement(header ? "th" : "td"); td.textContent = c ?? "–"; tr.append(td); } table.append(tr); }
        fetch("/api/admin/stats", { headers }).then(r => r.json()).then(s => {
          if (s.error) throw new Error(s.error.message);
          const summary = document.getElementById("summary");
          for (const k of ["pairs", "check_items", "overlap", "labels", "pairs_fully_labelled", "fleiss_kappa", "mean_cohens_kappa"]) row(summary, [k, s[k]]);
          const annotators = document.getElementById("annotators");
          row(annotators, ["annotator", "labels", "check items", "check accuracy", "first", "last"], true);
          for (const [name, a] of Object.entries(s.annotators)) row(annotators, [name, a.labels, a.check_items, a.check_accuracy, a.first, a.last]);
        }).catch(e => document.getElementById("error").textContent = e.message);
        for (const format of ["majority", "soft", "raw"]) document.getElementById(format).onclick = async e => {
          e.preventDefault();
          const text = await (await fetch("/api/admin/export?format=" + format, { headers })).text();
          const a = document.createElement("a"); a.href = URL.createObjectURL(new Blob([text], { type: "application/jsonl" })); a.download = format + ".jsonl"; a.click();
        };
        </script></body></html>
        """;
}
