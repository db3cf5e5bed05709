from imgpipe.cli import main

raise SystemExit(main())
