using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Reins.Feedback.Annotators;

namespace Reins.Cli.Labelling;

/// <summary>A pair to label: a prompt and two responses; a check item also knows which response is better.</summary>
internal sealed record LabelPair(string Id, string Prompt, string ResponseA, string ResponseB, string? CheckAnswer);

/// <summary>A pair as one annotator sees it: the two responses in the order recorded for them.</summary>
internal sealed record AssignedPair(LabelPair Pair, bool Swapped)
{
    public string Left => Swapped ? Pair.ResponseB : Pair.ResponseA;
    public string Right => Swapped ? Pair.ResponseA : Pair.ResponseB;
}

/// <summary>One stored judgement, in terms of response_a and response_b (not of the sides shown); ByJudge for an LLM judge's.</summary>
internal sealed record StoredLabel(string Annotator, string PairId, string Choice, bool Swapped, string? Ratings, string? Reason, string Created, bool ByJudge = false);

/// <summary>
/// A labelling project's SQLite database: the pairs, the annotators (only a hash of each access token is kept), what
/// each was shown and in which order, and the labels. Every label is one transaction in WAL mode with synchronous=FULL,
/// so a label acknowledged to the browser survives the process being killed; an idempotency key makes a repeated
/// submission (a double click, a retried request) count once. LLM judges label as annotators of their own kind: they
/// cannot sign in, and their labels neither count towards a pair's overlap nor enter the people's agreement.
/// </summary>
internal sealed class LabelStore : IDisposable
{
    public static readonly string[] Choices = ["a", "b", "tie", "both_bad"];
    private readonly SqliteConnection connection;
    private readonly object gate = new(); // re-entered: Next calls Assigned under it

    public LabelStore(string projectDirectory)
    {
        Directory.CreateDirectory(projectDirectory);
        connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path.Combine(projectDirectory, "labels.sqlite"), Pooling = false }.ToString());
        connection.Open();
        Execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
        Execute("""
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS pairs (id TEXT PRIMARY KEY, position INTEGER NOT NULL, prompt TEXT NOT NULL, response_a TEXT NOT NULL, response_b TEXT NOT NULL, check_answer TEXT);
            CREATE TABLE IF NOT EXISTS annotators (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, token_hash TEXT NOT NULL UNIQUE, is_admin INTEGER NOT NULL,
                is_judge INTEGER NOT NULL DEFAULT 0);
            CREATE TABLE IF NOT EXISTS assignments (annotator_id INTEGER NOT NULL REFERENCES annotators(id), pair_id TEXT NOT NULL REFERENCES pairs(id), swapped INTEGER NOT NULL, skipped INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (annotator_id, pair_id));
            CREATE TABLE IF NOT EXISTS labels (id INTEGER PRIMARY KEY, annotator_id INTEGER NOT NULL REFERENCES annotators(id), pair_id TEXT NOT NULL REFERENCES pairs(id),
                choice TEXT NOT NULL CHECK (choice IN ('a', 'b', 'tie', 'both_bad')), swapped INTEGER NOT NULL, ratings TEXT, reason TEXT,
                idempotency_key TEXT NOT NULL UNIQUE, created TEXT NOT NULL, UNIQUE (annotator_id, pair_id));
            """);
        // A project made before judges could label has no is_judge column: every annotator in it is a person.
        if (Scalar<long>("SELECT COUNT(*) FROM pragma_table_info('annotators') WHERE name = 'is_judge'", null) == 0)
            Execute("ALTER TABLE annotators ADD COLUMN is_judge INTEGER NOT NULL DEFAULT 0;");
    }

    /// <summary>How many annotators should label each pair (check items go to everyone).</summary>
    public int Overlap => int.Parse(Meta("overlap") ?? "1");

    /// <summary>The 1–7 rating attributes the page offers (optional for the annotator).</summary>
    public IReadOnlyList<string> Attributes => Meta("attributes") is { } a ? JsonSerializer.Deserialize<List<string>>(a)! : [];

    /// <summary>Loads the pairs of a new project and its settings; a project already holding pairs is refused.</summary>
    public int Initialise(IReadOnlyList<LabelPair> pairs, int overlap, IReadOnlyList<string> attributes)
    {
        lock (gate)
        {
            using var tx = connection.BeginTransaction();
            if (Scalar<long>("SELECT COUNT(*) FROM pairs", tx) > 0) throw new InvalidOperationException("the project already has its pairs; start a new project directory.");
            SetMeta("overlap", overlap.ToString(System.Globalization.CultureInfo.InvariantCulture), tx);
            SetMeta("attributes", JsonSerializer.Serialize(attributes), tx);
            for (int i = 0; i < pairs.Count; i++)
            {
                var p = pairs[i];
                NonQuery("INSERT INTO pairs (id, position, prompt, response_a, response_b, check_answer) VALUES ($id, $pos, $prompt, $a, $b, $check)", tx,
                    ("$id", p.Id), ("$pos", i), ("$prompt", p.Prompt), ("$a", p.ResponseA), ("$b", p.ResponseB), ("$check", p.CheckAnswer));
            }
            tx.Commit();
            return pairs.Count;
        }
    }

    /// <summary>Adds an annotator (or an admin) and returns the access token, which is never stored, only its hash.</summary>
    public string AddAnnotator(string name, bool admin)
    {
        string token = Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
        lock (gate)
            NonQuery("INSERT INTO annotators (name, token_hash, is_admin) VALUES ($name, $hash, $admin)", null, ("$name", name), ("$hash", Hash(token)), ("$admin", admin ? 1 : 0));
        return token;
    }

    /// <summary>
    /// The id of the LLM judge called <paramref name="name"/>, added on first use. A judge has no access link: its token
    /// is drawn and dropped, so no one can sign in as it.
    /// </summary>
    public long Judge(string name)
    {
        lock (gate)
        {
            if (Scalar<long?>("SELECT id FROM annotators WHERE name = $name AND is_judge = 1", null, ("$name", name)) is { } id) return id;
            if (Scalar<long>("SELECT COUNT(*) FROM annotators WHERE name = $name", null, ("$name", name)) > 0)
                throw new InvalidOperationException($"'{name}' is a person's annotator name in this project; a judge needs a name of its own.");
            NonQuery("INSERT INTO annotators (name, token_hash, is_admin, is_judge) VALUES ($name, $hash, 0, 1)", null,
                ("$name", name), ("$hash", Hash(Convert.ToHexString(RandomNumberGenerator.GetBytes(24)))));
            return Scalar<long>("SELECT id FROM annotators WHERE name = $name", null, ("$name", name));
        }
    }

    /// <summary>The pairs (check items included, which measure the judge too) that annotator <paramref name="annotator"/> has not labelled.</summary>
    public List<LabelPair> Unlabelled(long annotator)
    {
        var labelled = LabelledBy(annotator);
        return [.. Pairs().Where(p => !labelled.Contains(p.Id))];
    }

    private HashSet<string> LabelledBy(long annotator)
    {
        lock (gate)
        {
            var ids = new HashSet<string>();
            using var command = Command("SELECT pair_id FROM labels WHERE annotator_id = $a", null, ("$a", annotator));
            using var reader = command.ExecuteReader();
            while (reader.Read()) ids.Add(reader.GetString(0));
            return ids;
        }
    }

    /// <summary>The annotator a token belongs to: (id, name, admin), or null.</summary>
    public (long Id, string Name, bool Admin)? Authenticate(string? token)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 200) return null;
        lock (gate)
        {
            using var command = Command("SELECT id, name, is_admin FROM annotators WHERE token_hash = $hash AND is_judge = 0", null, ("$hash", Hash(token)));
            using var reader = command.ExecuteReader();
            return reader.Read() ? (reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2) == 1) : null;
        }
    }

    /// <summary>
    /// The next pair for an annotator: one they were shown and neither labelled nor skipped, else a new one still short
    /// of its overlap (or a check item), fewest labels first, in an order of its own for each annotator. The side each
    /// response appears on is drawn once and recorded.
    /// </summary>
    public AssignedPair? Next(long annotator)
    {
        lock (gate)
        {
            int overlap = Overlap;
            using var tx = connection.BeginTransaction();
            string? open = Scalar<string?>("""
                SELECT s.pair_id FROM assignments s WHERE s.annotator_id = $a AND s.skipped = 0
                  AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.annotator_id = $a AND l.pair_id = s.pair_id) LIMIT 1
                """, tx, ("$a", annotator));
            if (open is null)
            {
                var candidates = new List<(string Id, long Labels, bool Check)>();
                using (var command = Command("""
                    SELECT p.id, (SELECT COUNT(*) FROM labels l WHERE l.pair_id = p.id AND l.annotator_id IN (SELECT id FROM annotators WHERE is_judge = 0)),
                      p.check_answer IS NOT NULL FROM pairs p
                    WHERE NOT EXISTS (SELECT 1 FROM assignments s WHERE s.annotator_id = $a AND s.pair_id = p.id)
                    """, tx, ("$a", annotator)))
                using (var reader = command.ExecuteReader())
                    while (reader.Read()) candidates.Add((reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2) == 1));
                var chosen = candidates.Where(c => c.Check || c.Labels < overlap)
                    .OrderBy(c => c.Check ? 0 : c.Labels).ThenBy(c => Hash($"{annotator}:{c.Id}"), StringComparer.Ordinal).FirstOrDefault();
                if (chosen.Id is null) return null;
                open = chosen.Id;
                NonQuery("INSERT INTO assignments (annotator_id, pair_id, swapped) VALUES ($a, $p, $s)", tx, ("$a", annotator), ("$p", open), ("$s", RandomNumberGenerator.GetInt32(2)));
            }
            var assigned = Assigned(annotator, open, tx)!;
            tx.Commit();
            return assigned;
        }
    }

    /// <summary>The pair as shown to the annotator, or null when it was never assigned to them.</summary>
    public AssignedPair? Assigned(long annotator, string pairId, SqliteTransaction? tx = null)
    {
        lock (gate)
        {
            using var command = Command("""
                SELECT p.id, p.prompt, p.response_a, p.response_b, p.check_answer, s.swapped FROM assignments s JOIN pairs p ON p.id = s.pair_id
                WHERE s.annotator_id = $a AND s.pair_id = $p
                """, tx, ("$a", annotator), ("$p", pairId));
            using var reader = command.ExecuteReader();
            if (!reader.Read()) return null;
            return new AssignedPair(new LabelPair(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4)), reader.GetInt64(5) == 1);
        }
    }

    /// <summary>Marks an assigned pair skipped for this annotator.</summary>
    public bool Skip(long annotator, string pairId)
    {
        lock (gate) return NonQuery("UPDATE assignments SET skipped = 1 WHERE annotator_id = $a AND pair_id = $p", null, ("$a", annotator), ("$p", pairId)) == 1;
    }

    /// <summary>
    /// Stores one label in one transaction. A key seen before returns false and stores nothing (the first submission
    /// stands); a second, different label of the same pair by the same annotator is refused.
    /// </summary>
    public bool Save(long annotator, AssignedPair shown, string choice, string? ratings, string? reason, string idempotencyKey)
    {
        lock (gate)
        {
            using var tx = connection.BeginTransaction();
            if (Scalar<long>("SELECT COUNT(*) FROM labels WHERE idempotency_key = $k", tx, ("$k", idempotencyKey)) > 0) return false;
            if (Scalar<long>("SELECT COUNT(*) FROM labels WHERE annotator_id = $a AND pair_id = $p", tx, ("$a", annotator), ("$p", shown.Pair.Id)) > 0)
                throw new InvalidOperationException("this pair is already labelled by this annotator");
            NonQuery("""
                INSERT INTO labels (annotator_id, pair_id, choice, swapped, ratings, reason, idempotency_key, created)
                VALUES ($a, $p, $c, $s, $r, $reason, $k, $t)
                """, tx, ("$a", annotator), ("$p", shown.Pair.Id), ("$c", choice), ("$s", shown.Swapped ? 1 : 0), ("$r", ratings), ("$reason", reason),
                ("$k", idempotencyKey), ("$t", DateTime.UtcNow.ToString("O")));
            tx.Commit();
            return true;
        }
    }

    /// <summary>(labelled by this annotator, pairs they can still get or have).</summary>
    public (long Done, long Total) Progress(long annotator)
    {
        lock (gate)
        {
            long done = Scalar<long>("SELECT COUNT(*) FROM labels WHERE annotator_id = $a", null, ("$a", annotator));
            long open = Scalar<long>("""
                SELECT COUNT(*) FROM pairs p WHERE NOT EXISTS (SELECT 1 FROM labels l WHERE l.annotator_id = $a AND l.pair_id = p.id)
                  AND NOT EXISTS (SELECT 1 FROM assignments s WHERE s.annotator_id = $a AND s.pair_id = p.id AND s.skipped = 1)
                  AND (p.check_answer IS NOT NULL
                    OR (SELECT COUNT(*) FROM labels l WHERE l.pair_id = p.id AND l.annotator_id IN (SELECT id FROM annotators WHERE is_judge = 0)) < $o)
                """, null, ("$a", annotator), ("$o", Overlap));
            return (done, done + open);
        }
    }

    /// <summary>Every label with its annotator's name, oldest first.</summary>
    public List<StoredLabel> Labels()
    {
        lock (gate)
        {
            var labels = new List<StoredLabel>();
            using var command = Command("""
                SELECT a.name, l.pair_id, l.choice, l.swapped, l.ratings, l.reason, l.created, a.is_judge FROM labels l JOIN annotators a ON a.id = l.annotator_id ORDER BY l.id
                """, null);
            using var reader = command.ExecuteReader();
            while (reader.Read())
                labels.Add(new StoredLabel(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3) == 1,
                    reader.IsDBNull(4) ? null : reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetString(6), reader.GetInt64(7) == 1));
            return labels;
        }
    }

    /// <summary>Every pair, in the order of the input file.</summary>
    public List<LabelPair> Pairs()
    {
        lock (gate)
        {
            var pairs = new List<LabelPair>();
            using var command = Command("SELECT id, prompt, response_a, response_b, check_answer FROM pairs ORDER BY position", null);
            using var reader = command.ExecuteReader();
            while (reader.Read()) pairs.Add(new LabelPair(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4)));
            return pairs;
        }
    }

    /// <summary>
    /// Throughput, the people's agreement (Fleiss' κ over pairs with the full overlap, mean pairwise Cohen's κ) and check
    /// accuracy per annotator; a judge's row also gives its agreement with the people's majority where they have one.
    /// </summary>
    public JsonObject Statistics()
    {
        var all = Labels();
        var pairs = Pairs().ToDictionary(p => p.Id);
        var labels = all.Where(l => !l.ByJudge).ToList();
        var majority = labels.Where(l => pairs[l.PairId].CheckAnswer is null).GroupBy(l => l.PairId)
            .Select(g => (Pair: g.Key, A: g.Count(l => l.Choice == "a"), B: g.Count(l => l.Choice == "b"))).Where(v => v.A != v.B)
            .ToDictionary(v => v.Pair, v => v.A > v.B ? "a" : "b");
        var perAnnotator = new JsonObject();
        foreach (var group in all.GroupBy(l => l.Annotator))
        {
            var checks = group.Where(l => pairs[l.PairId].CheckAnswer is not null).ToList();
            var row = new JsonObject
            {
                ["labels"] = group.Count(),
                ["check_items"] = checks.Count,
                ["check_accuracy"] = checks.Count == 0 ? null : Math.Round(checks.Count(l => l.Choice == pairs[l.PairId].CheckAnswer) / (double)checks.Count, 4),
                ["first"] = group.Min(l => l.Created), ["last"] = group.Max(l => l.Created),
            };
            if (group.First().ByJudge)
            {
                var compared = group.Where(l => majority.ContainsKey(l.PairId)).ToList();
                row["judge"] = true;
                row["pairs_with_a_human_majority"] = compared.Count;
                row["agreement_with_human_majority"] = compared.Count == 0 ? null : Math.Round(compared.Count(l => l.Choice == majority[l.PairId]) / (double)compared.Count, 4);
            }
            perAnnotator[group.Key] = row;
        }
        var regular = labels.Where(l => pairs[l.PairId].CheckAnswer is null).GroupBy(l => l.PairId).ToList();
        int overlap = Overlap;
        var full = regular.Where(g => g.Count() == overlap).Select(g => (IReadOnlyList<string>)[.. g.Select(l => l.Choice)]).ToList();
        // Cohen's κ for each pair of annotators on the pairs both labelled, averaged over annotator pairs sharing ≥ 2.
        var names = labels.Select(l => l.Annotator).Distinct().ToList();
        var kappas = new List<double>();
        for (int i = 0; i < names.Count; i++)
            for (int j = i + 1; j < names.Count; j++)
            {
                var shared = regular.Select(g => (A: g.FirstOrDefault(l => l.Annotator == names[i]), B: g.FirstOrDefault(l => l.Annotator == names[j])))
                    .Where(x => x.A is not null && x.B is not null).ToList();
                if (shared.Count >= 2) kappas.Add(CohensKappa.Compute([.. shared.Select(x => x.A!.Choice)], [.. shared.Select(x => x.B!.Choice)]));
            }
        return new JsonObject
        {
            ["pairs"] = pairs.Count, ["check_items"] = pairs.Values.Count(p => p.CheckAnswer is not null), ["overlap"] = overlap,
            ["labels"] = labels.Count, ["judge_labels"] = all.Count - labels.Count, ["pairs_fully_labelled"] = full.Count,
            ["fleiss_kappa"] = overlap >= 2 && full.Count > 0 ? Math.Round(FleissKappa.FromLabels(full), 4) : null,
            ["mean_cohens_kappa"] = kappas.Count > 0 ? Math.Round(kappas.Average(), 4) : null,
            ["annotators"] = perAnnotator,
        };
    }

    private static string Hash(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    private string? Meta(string key)
    {
        lock (gate) return Scalar<string?>("SELECT value FROM meta WHERE key = $k", null, ("$k", key));
    }

    private void SetMeta(string key, string value, SqliteTransaction tx) =>
        NonQuery("INSERT OR REPLACE INTO meta (key, value) VALUES ($k, $v)", tx, ("$k", key), ("$v", value));

    private T Scalar<T>(string sql, SqliteTransaction? tx, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(sql, tx, parameters);
        var value = command.ExecuteScalar();
        return value is null or DBNull ? default! : (T)Convert.ChangeType(value, Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    private int NonQuery(string sql, SqliteTransaction? tx, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(sql, tx, parameters);
        return command.ExecuteNonQuery();
    }

    private SqliteCommand Command(string sql, SqliteTransaction? tx, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = tx;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command;
    }

    private void Execute(string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public void Dispose() => connection.Dispose();
}
