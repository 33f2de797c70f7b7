using System.CommandLine;
using Reins.Cli.Serving;

namespace Reins.Cli.Commands;

/// <summary>`reins serve`: an OpenAI-compatible server for a checkpoint, on loopback unless told otherwise.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Checkpoint directory (with its tokenizer and chat template) to serve over the OpenAI API." };
        var rewardModel = new Option<string?>("--reward-model") { Description = "A reward or cost model to serve instead, on OpenRLHF's protocol: POST /get_reward {query, prompts, labels} → {rewards} (what --reward-url sends)." };
        var host = new Option<string>("--host") { Description = "Address to listen on; 0.0.0.0 exposes the server to the network.", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port (0 picks a free one, printed at start).", DefaultValueFactory = _ => 8000 };
        var name = new Option<string?>("--served-model-name") { Description = "The model id clients send in \"model\" (default: the checkpoint directory's name)." };
        var keyEnv = new Option<string?>("--api-key-env") { Description = "Environment variable holding the API key every request must send as a Bearer token (the key itself is never a flag)." };
        var queueLimit = new Option<int>("--queue-limit") { Description = "Prompts waiting for the model at most; further requests get 429.", DefaultValueFactory = _ => 64 };
        var maxBatch = new Option<int>("--max-batch") { Description = "Prompts decoded together at most.", DefaultValueFactory = _ => 16 };
        var threads = CommonOptions.Threads();
        var cmd = new Command("serve", "Serve a checkpoint over the OpenAI API (/v1/models, /v1/chat/completions, /v1/completions, streaming, log-probs), or a reward model on OpenRLHF's /get_reward.")
            { model, rewardModel, host, port, name, keyEnv, queueLimit, maxBatch, threads };
        cmd.SetAction(async (r, cancellation) =>
        {
            CommonOptions.ApplyThreads(r.GetValue(threads));
            string? key = null;
            if (r.GetValue(keyEnv) is { } variable)
                key = Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value ? value
                    : throw new ArgumentException($"serve: --api-key-env names {variable}, which is not set or empty.");
            if (r.GetValue(queueLimit) < 1 || r.GetValue(maxBatch) < 1) throw new ArgumentException("serve: --queue-limit and --max-batch must be at least 1.");
            if ((r.GetValue(model) is null) == (r.GetValue(rewardModel) is null)) throw new ArgumentException("serve: give --model DIR or --reward-model DIR (one server each).");
            using var signals = new StopSignals();
            var settings = new ServeSettings(r.GetValue(model) ?? r.GetValue(rewardModel)!)
            {
                Host = r.GetValue(host)!, Port = r.GetValue(port), ServedModelName = r.GetValue(name), ApiKey = key,
                QueueLimit = r.GetValue(queueLimit), MaxBatch = r.GetValue(maxBatch),
            };
            IAsyncDisposable server;
            if (r.GetValue(model) is not null)
            {
                var lm = await OpenAiServer.StartAsync(settings, cancellation);
                server = lm;
                Announce($"'{lm.ModelName}' on {lm.Address} (OpenAI API under /v1)");
            }
            else
            {
                var rm = await RewardModelServer.StartAsync(settings, cancellation);
                server = rm;
                Announce($"reward model {settings.ModelDirectory} on {rm.Address} (POST /get_reward)");
            }
            await using (server)
            {
                try { await Task.Delay(Timeout.Infinite, CancellationTokenSource.CreateLinkedTokenSource(cancellation, signals.Token).Token); }
                catch (OperationCanceledException) { }
                Console.Error.WriteLine("reins serve: stopping (requests in flight may finish for up to 30 s).");
            }
            return 0;

            void Announce(string what) => Console.Error.WriteLine($"reins serve: {what}{(key is null ? "" : ", API key required")}; Ctrl-C stops.");
        });
        return cmd;
    }
}
