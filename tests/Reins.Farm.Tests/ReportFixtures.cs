using Reins.Farm.Pipeline;
using Reins.Farm.Report;

namespace Reins.Farm.Tests;

/// <summary>A filled-in results.json for the report tests.</summary>
internal static class ReportFixtures
{
    public static FarmResults Results(bool withExtensions = true) => new(
        Task: "reviews",
        Seed: 3,
        Config: FarmConfig.Quick,
        Annotators: withExtensions ? new AnnotatorResults(0.71, 0.64, 0.28, 0.27) : new AnnotatorResults(0.71, 0.64),
        Methods:
        [
            new MethodResult(MethodNames.Sft, 0.95, [0.9, 1.0], 0.1, 0, 0.5, 0.5, 11.2, 3.5),
            new MethodResult(MethodNames.BestOf16, 1.3, [1.2, 1.4], 0.9, 1.7, 0.71, 0.66, 12.5, 8.25,
                withExtensions ? [0.8, 1.0] : null, withExtensions ? [1.5, 1.9] : null, withExtensions ? [0.65, 0.77] : null,
                withExtensions ? 1.8350887222397811 : null),
            new MethodResult(MethodNames.Ppo, 1.45, [1.3, 1.6], 1.4, 4.2, 0.78, 0.7, 14.1, 120.5),
        ],
        Overoptimization: new OveroptimizationResults(
            Single: [new(0, 0, 0.95, 0.1), new(100, 1.2, 1.3, 1.1), new(200, 2.0, 1.1, 1.6)],
            Wco: [new(0, 0, 0.95, 0.1), new(100, 1.0, 1.35, 0.9)],
            Uwo: [new(0, 0, 0.95, 0.1), new(100, 1.1, 1.32, 0.95)]));
}
