from perfapi.cli import main

main()
