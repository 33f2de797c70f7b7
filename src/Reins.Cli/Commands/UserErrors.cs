namespace Reins.Cli.Commands;

/// <summary>
/// Turns the errors a user can fix (a missing or malformed file, a bad argument) into one line on stderr and
/// exit code 1; their messages already name the file, line or field, so a stack trace would only bury them.
/// </summary>
internal static class UserErrors
{
    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or InvalidDataException or ArgumentException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }
}
