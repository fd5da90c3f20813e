"""The one error type for bad user input, shared by every command line in the project."""


class InputError(Exception):
    """Bad input (missing file or column, malformed template, wrong model path ...).

    Command lines print ``error: <message>`` on one line and exit with code 2. The message must say
    what is wrong and where (file, line, field, column).
    """

    exit_code = 2
