from pygan.cli import main

main()
