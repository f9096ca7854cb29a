from gitguard.cli.main import main

raise SystemExit(main())
