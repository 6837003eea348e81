"""The workbench: ipywidgets panels, charts, the runbook executor and the JupyterLab launcher.

Entry points: `board.freshness_board`, `restore_panel.restore_launcher`, `deploy_panel.DeployPanel`,
`panel.PlanPanel`, `picker.LabPicker`, `plots.*` (Figures), `runbooks.run_runbook`,
`kernel.headless_kernel` (papermill's kernel settings), `labserver.start_lab_server`. Logic lives in the rooms below; panels only call it.
"""
