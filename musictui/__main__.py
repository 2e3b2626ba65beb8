from musictui.cli import main

raise SystemExit(main())
