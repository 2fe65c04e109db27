"""``python -m formicary`` runs the command line."""

from formicary.cli import main

if __name__ == "__main__":
    main()
