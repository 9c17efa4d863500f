from intake.entry import main

raise SystemExit(main())
