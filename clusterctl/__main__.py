from .entry import run_main

run_main()
