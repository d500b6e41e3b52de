from spendtui.cli import main

raise SystemExit(main())
