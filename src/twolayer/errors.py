"""The error contract: a user's mistake is an InputError (a ValueError) with one plain line."""


class InputError(ValueError):
    """Bad input from the user: the message names the problem and how to fix it.

    The command line prints it as one line on stderr and exits with code 2.
    """


class InputTypeError(InputError, TypeError):
    """Bad input of the wrong type (a string where a number belongs, a float where an integer
    does): catchable as TypeError and, like every InputError, as ValueError."""


class DivergedError(RuntimeError):
    """Training produced a non-finite loss; the message contains the word 'diverged'."""
