"""Makes ``shop`` (the application) importable from its tests: pytest puts the folder
of a conftest.py on ``sys.path``. The CrossQL plugin itself needs no setup: installed
with crossql, it is a pytest11 entry point."""
