from turnout.proxy.app import main

raise SystemExit(main())
