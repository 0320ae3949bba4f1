from data_sharing_tool.cli import main

main()
