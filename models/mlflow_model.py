"""MLflow "models from code" entry point: logged as the pyfunc's code instead of a pickle.

MLflow executes this file when it loads the model; it only names the model class.
"""

import mlflow

from models.pyfunc import LeadScorerModel

mlflow.models.set_model(LeadScorerModel())
