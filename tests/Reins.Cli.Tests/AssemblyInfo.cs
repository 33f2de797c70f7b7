// The commands under test write their results to Console.Out, and several tests capture it with Console.SetOut, which
// is process-wide: run this assembly's test classes one at a time so no test reads another's output.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
