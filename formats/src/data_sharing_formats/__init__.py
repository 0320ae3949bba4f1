"""File formats shared by the datasharing service and data-sharing-tool."""
