"""`python -m latentwalk` runs the command line."""

from latentwalk.cli import main

if __name__ == "__main__":
    main()
