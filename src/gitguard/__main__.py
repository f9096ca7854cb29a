from gitguard.cli import main

raise SystemExit(main())
