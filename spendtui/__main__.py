from spendtui.entry import main

raise SystemExit(main())
