from olactors.cli import main

raise SystemExit(main())
